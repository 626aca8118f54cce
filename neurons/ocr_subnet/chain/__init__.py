"""The chain port: the one seam between the neurons and a Bittensor chain.

`connect(network, netuid)` picks the adapter from the network name. Adapters import lazily so
that `import ocr_subnet.chain` (and `ocr-subnet --help`) stays cheap.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocr_subnet.chain.port import ChainPort

LOCAL_NETWORK = "local"
SDK_NETWORKS = frozenset({"finney", "test", "archive", "devnet"})


class AdapterKind(enum.StrEnum):
    LOCAL = "local"
    SDK = "sdk"


def adapter_for(network: str) -> tuple[AdapterKind, str]:
    """(adapter, address) for a network name: "local" and http(s) URLs are the local chain;
    bittensor's named networks and ws(s) URLs go through the SDK."""
    from ocr_subnet.chain.local import DEFAULT_LOCAL_URL

    if network == LOCAL_NETWORK:
        return AdapterKind.LOCAL, DEFAULT_LOCAL_URL
    if network.startswith(("http://", "https://")):
        return AdapterKind.LOCAL, network.rstrip("/")
    if network in SDK_NETWORKS or network.startswith(("ws://", "wss://")):
        return AdapterKind.SDK, network
    raise ValueError(
        f"unknown network {network!r}: use 'local', http://HOST:PORT (local chain), "
        f"{', '.join(sorted(SDK_NETWORKS))} or ws(s)://HOST:PORT (a subtensor node)"
    )


def connect(network: str, netuid: int, *, timeout: float | None = None) -> ChainPort:
    """A `ChainPort` for `network`; `timeout` bounds each chain call (adapter default when None).

    Nothing is contacted here: the first call connects, so a chain that is down surfaces as
    `ChainUnavailable` from that call rather than from start-up.
    """
    kind, address = adapter_for(network)
    options = {} if timeout is None else {"timeout": timeout}
    if kind is AdapterKind.LOCAL:
        from ocr_subnet.chain.local import LocalChainClient

        return LocalChainClient(address, netuid, **options)
    from ocr_subnet.chain.sdk import SubtensorChain

    return SubtensorChain(address, netuid, **options)
