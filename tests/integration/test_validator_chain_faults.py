"""The validator process against the local chain process on loopback: outages and what it dials.

The chain's outage is a real one: the validator reaches the chain through a TCP relay this test
owns, and the relay stops answering (listener closed, connections cut) while the chain keeps
producing blocks, as a network partition would. Miners are plain sockets the test watches.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ocr_subnet.local.procs import Child, spawn, stop_all
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.wallets import local_wallet

from tests.integration.test_chain_local_server import NETUID, start_chain, stop
from tests.support.poll import wait_until
from tests.support.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BLOCK_TIME_S = 0.2
TEMPO = 20  # blocks: one tempo is 4 s
RATE_LIMIT = 5
OUTAGE_S = 12.0


class Relay:
    """127.0.0.1:port -> target, with an off switch that refuses new connections and cuts open ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class SilentMiner:
    """Accepts connections on `host` and never answers; counts who dialled it."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.connections = 0
        self._sock = socket.socket()
        self._sock.bind((host, 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def subnet(tmp_path: Path) -> Iterator[dict]:
    chain = start_chain(
        tmp_path / "chain.json", tmp_path / "chain.log", block_time=BLOCK_TIME_S, tempo=TEMPO, rate_limit=RATE_LIMIT
    )
    wallets = tmp_path / "wallets"
    client = chain.client()
    validator = local_wallet("validator", wallets_dir=wallets)
    client.register(validator, stake=1_000.0)
    children: list[Child] = []
    miners: list[SilentMiner] = []

    def add_miner(host: str) -> SilentMiner:
        miner = SilentMiner(host)
        miners.append(miner)
        wallet = local_wallet(f"miner-{len(miners)}", wallets_dir=wallets)
        client.register(wallet)
        client.serve_axon(wallet, host, miner.port)
        return miner

    def start_validator(chain_url: str, *extra: str, deadline: float = 10.0) -> Child:
        child = spawn(
            "validator",
            [
                *ocr_subnet_command(),
                *("validator", "--network", chain_url, "--netuid", str(NETUID), "--wallet-name", "validator"),
                *("--wallet-path", str(wallets), "--state", str(tmp_path / "validator.json")),
                *("--metrics-port", "0", "--sample-size", "4", "--round-interval", "1"),
                *("--deadline", str(deadline), "--chain-timeout", "2", *extra),
            ],
            tmp_path / "validator.log",
        )
        children.append(child)
        return child

    def last_update() -> int:
        return client.metagraph().by_hotkey(validator.hotkey.ss58_address).last_update

    try:
        yield {
            "chain": chain,
            "add_miner": add_miner,
            "start_validator": start_validator,
            "last_update": last_update,
            "log": tmp_path / "validator.log",
        }
    finally:
        stop_all(children, 10.0)
        for miner in miners:
            miner.close()
        client.close()
        stop(chain)


def test_weights_come_back_within_one_tempo_after_a_chain_outage(subnet: dict) -> None:
    """Rounds here last 10 s (a miner that never answers): weights must not wait for them, nor for
    a backoff grown during the outage."""
    chain_port = int(subnet["chain"].url.rsplit(":", 1)[1])
    relay = Relay(chain_port)
    relay.up()
    miner = subnet["add_miner"]("127.0.0.1")
    child = subnet["start_validator"](f"http://127.0.0.1:{relay.port}", "--allowed-axon-network", "127.0.0.0/8")
    last_update = subnet["last_update"]
    registered = last_update()
    first = wait_until(lambda: (b := last_update()) > registered and b, "the first weight set", timeout_s=60)
    assert miner.connections >= 1  # queried, under the explicit loopback setting

    relay.down()
    time.sleep(OUTAGE_S)
    assert child.alive, child.log_tail()
    before = last_update()
    relay.up()
    back = time.monotonic()
    landed = wait_until(lambda: (b := last_update()) > before and b, "weights after the outage", timeout_s=60)
    recovery_s = time.monotonic() - back
    tempo_s = TEMPO * BLOCK_TIME_S
    print(f"weights {recovery_s:.2f}s after the chain answered again (tempo {tempo_s:g}s, outage {OUTAGE_S:g}s)")
    assert recovery_s <= tempo_s, f"weights came back {recovery_s:.2f}s after the chain, more than a tempo"
    assert landed - first >= TEMPO  # and never twice inside an epoch


def test_the_validator_does_not_dial_loopback_axons_by_default(subnet: dict) -> None:
    miner = subnet["add_miner"]("127.0.0.2")
    child = subnet["start_validator"](subnet["chain"].url, deadline=1.0)
    wait_until(
        lambda: subnet["log"].read_text().count("no queryable miners") >= 3 or None,
        "three rounds skipped for want of a queryable miner",
        timeout_s=60,
    )
    assert child.alive, child.log_tail()
    assert miner.connections == 0
