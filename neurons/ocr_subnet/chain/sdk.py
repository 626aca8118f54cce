"""The bittensor 11 SDK adapter: `ChainPort` for finney, test or any subtensor node (ws://, wss://).

`bt.Subtensor` is used in its async mode on a private event-loop thread. Owning the loop lets
every call carry our deadline (the SDK's blocking facade waits without one), so a node that
accepts the connection and then hangs surfaces as `ChainUnavailable` instead of a stuck neuron.
Weights go through the `SetWeights` intent, which conforms them to the subnet's limits, picks
plain or commit-reveal submission and preflights registration and the rate limit; its typed
errors are mapped onto `WeightSetOutcome` here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import bittensor as bt

from ocr_subnet.chain.port import (
    AxonInfo,
    ChainRejected,
    ChainUnavailable,
    Hyperparameters,
    Metagraph,
    NeuronInfo,
    WeightSetOutcome,
    WeightSetResult,
)

DEFAULT_TIMEOUT_S = 60.0
U16_MAX = 65535
WEIGHT_SET_RETRIES = 2  # transient pool rejections (nonce races) only; chain refusals never retry

T = TypeVar("T")

_UNREACHABLE = (bt.RpcConnectionError, bt.ConnectionNotReady, OSError)


def axon_from_endpoint(endpoint: str | None) -> AxonInfo | None:
    """`"ip:port"` or `"[v6]:port"` as the SDK renders a served axon; None when nothing is served."""
    if not endpoint:
        return None
    host, _, port = endpoint.rpartition(":")
    ip = ipaddress.ip_address(host.strip("[]"))
    return AxonInfo(ip=str(ip), port=int(port))


def metagraph_from_sdk(graph: bt.Metagraph) -> Metagraph:
    """Our metagraph from the SDK's; stake is the neuron's total stake on the subnet, in its alpha."""
    neurons = tuple(
        NeuronInfo(
            uid=n.uid,
            hotkey=n.hotkey,
            coldkey=n.coldkey,
            stake=n.total_stake.amount,
            validator_permit=n.validator_permit,
            axon=axon_from_endpoint(n.axon),
            last_update=n.last_update,
            incentive=n.incentive,
        )
        for n in graph.neurons
    )
    return Metagraph(netuid=graph.netuid, block=graph.block, neurons=neurons)


def weight_outcome(code: bt.ErrorCode) -> WeightSetOutcome:
    """Rate limits are retried next window; internal or unclassified failures are the chain's
    problem; everything else (unregistered, no permit, bad vector, old version) is a refusal."""
    if code is bt.ErrorCode.RATE_LIMITED:
        return WeightSetOutcome.RATE_LIMITED
    if code in (bt.ErrorCode.INTERNAL, bt.ErrorCode.UNKNOWN):
        return WeightSetOutcome.CHAIN_ERROR
    return WeightSetOutcome.REJECTED


def included_block(result: bt.ExtrinsicResult) -> int | None:
    """The block an extrinsic landed in, from its `"block-index"` id when the node reported one."""
    if not result.extrinsic_id:
        return None
    return int(result.extrinsic_id.split("-", 1)[0])


class _LoopThread:
    """An event loop on a daemon thread, for running the SDK's coroutines with a deadline."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="subtensor-chain", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if self.closed:
            coro.close()
            raise RuntimeError("this chain adapter is closed")
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), self._loop).result()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


class SubtensorChain:
    """`ChainPort` over `bt.Subtensor(network)`; pass `substrate` to run the SDK on another backend."""

    def __init__(
        self,
        network: str,
        netuid: int,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        substrate: bt.Substrate | None = None,
    ) -> None:
        self.netuid = netuid
        self.network = network
        self._timeout = timeout
        self._subtensor = bt.Subtensor(network, substrate=substrate)
        self._loop = _LoopThread()

    def close(self) -> None:
        """Close the connection and the loop thread; later calls raise RuntimeError."""
        if self._loop.closed:
            return
        try:
            self._loop.run(self._subtensor.__aexit__(None, None, None), self._timeout)
        finally:
            self._loop.stop()

    def _run(self, operation: Callable[[bt.Client], Awaitable[T]]) -> T:
        """Connect if needed, run `operation`, and turn every way of not getting an answer into
        `ChainUnavailable`."""

        async def call() -> T:
            client = await self._subtensor
            return await operation(client)

        try:
            return self._loop.run(call(), self._timeout)
        except TimeoutError as exc:
            raise ChainUnavailable(f"{self.network}: no answer within {self._timeout:g}s") from exc
        except _UNREACHABLE as exc:
            raise ChainUnavailable(f"{self.network}: {type(exc).__name__}: {exc}") from exc

    def _read(self, operation: Callable[[bt.Client], Awaitable[T]]) -> T:
        """A read that fails on the chain side (pruned state, runtime error) is retried later too."""
        try:
            return self._run(operation)
        except bt.ChainError as exc:
            raise ChainUnavailable(f"{self.network}: read failed: {exc}") from exc

    def current_block(self) -> int:
        return self._read(lambda client: client.block())

    def metagraph(self) -> Metagraph:
        graph = self._read(lambda client: client.subnets.metagraph(self.netuid, commitments=False))
        if graph is None:
            raise ChainRejected(f"subnet {self.netuid} does not exist on {self.network}")
        return metagraph_from_sdk(graph)

    def hyperparameters(self) -> Hyperparameters:
        netuid = self.netuid

        async def fetch(client: bt.Client) -> tuple[Any, ...]:
            view = await client.at()
            return await asyncio.gather(
                view.query(bt.storage.SubtensorModule.NetworksAdded, [netuid]),
                view.query(bt.storage.SubtensorModule.Tempo, [netuid]),
                view.hyperparameters.weights_rate_limit(netuid),
                view.subnets.commit_reveal_enabled(netuid),
                view.hyperparameters.max_weight_limit(netuid),
            )

        exists, tempo, rate_limit, commit_reveal, max_weight = self._read(fetch)
        if not exists:
            raise ChainRejected(f"subnet {netuid} does not exist on {self.network}")
        return Hyperparameters(
            tempo=int(tempo),
            weights_rate_limit=int(rate_limit),
            commit_reveal_enabled=bool(commit_reveal),
            max_weights_limit=int(max_weight) / U16_MAX,
        )

    def serve_axon(self, wallet: bt.Wallet, ip: str, port: int) -> None:
        """Publish ip:port; publishing what is already there is skipped, so a restarted miner does
        not trip the chain's serving rate limit."""
        hotkey = wallet.hotkey.ss58_address
        current = self.metagraph().by_hotkey(hotkey)
        if current is None:
            raise ChainRejected(f"hotkey {hotkey} is not registered on subnet {self.netuid}")
        if current.axon == AxonInfo(ip=ip, port=port):
            return
        try:
            intent = bt.ServeAxon(netuid=self.netuid, ip=ip, port=port)
            result = self._run(lambda client: client.execute(intent, wallet, wait_for_finalization=False))
        except (bt.ChainError, ValueError) as exc:
            raise ChainRejected(f"serve_axon {ip}:{port} refused: {exc}") from exc
        if not result.success:
            raise ChainRejected(f"serve_axon {ip}:{port} refused: {result.message}")

    def set_weights(
        self, wallet: bt.Wallet, uids: Sequence[int], weights: Sequence[float], version_key: int
    ) -> WeightSetResult:
        try:
            intent = bt.SetWeights(
                netuid=self.netuid,
                uids=[int(uid) for uid in uids],
                weights=[float(weight) for weight in weights],
                version_key=version_key,
            )
        except bt.BittensorError as exc:
            return WeightSetResult(WeightSetOutcome.REJECTED, message=str(exc))

        async def submit(client: bt.Client) -> WeightSetResult:
            try:
                result = await client.execute(intent, wallet, wait_for_finalization=False, retries=WEIGHT_SET_RETRIES)
            except _UNREACHABLE:
                raise
            except bt.ChainError as exc:  # caught by the SDK's preflight before anything was signed
                return WeightSetResult(weight_outcome(exc.code), message=exc.message)
            except bt.BittensorError as exc:  # the weights cannot be conformed (all zero, too few)
                return WeightSetResult(WeightSetOutcome.REJECTED, message=str(exc))
            if result.success:
                block = included_block(result)
                return WeightSetResult(
                    WeightSetOutcome.SUCCESS, block=block if block is not None else await client.block()
                )
            error = result.error or bt.ChainError(result.message)
            return WeightSetResult(weight_outcome(error.code), message=error.message)

        return self._run(submit)
