"""Replay protection that survives a restart, for servers that verify btauth/1 requests.

btauth/1's seen-nonce cache (`InMemoryNonceStore`) starts empty in every process, while its
freshness window (10 s back, 2 s ahead by default) does not care about restarts: a request captured
shortly before a restart verifies again after it. A miner cannot make signatures name a per-start
epoch (the payload holds only method, path, body hash, nonce, sender and receiver, and the receiver
is its hotkey), but the nonce is itself a signed timestamp. So the epoch is this store's start: any
request the previous process accepted carried a nonce at most `allowed_skew` ahead of the moment it
was accepted, which is before this process started; refusing every nonce up to start + skew refuses
all of them, with nothing written to disk. The price is that requests signed in the first
`allowed_skew` seconds after a start are refused too (a client retries with a fresh nonce).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bittensor.http_auth import InMemoryNonceStore, StaleRequest

RETENTION_MARGIN_S = 1.0


class StartBoundNonceStore(InMemoryNonceStore):
    """`InMemoryNonceStore` that also refuses every nonce not later than its start plus `allowed_skew_s`."""

    def __init__(self, max_age_s: float, allowed_skew_s: float, now_ns: Callable[[], int] = time.time_ns) -> None:
        # Entries must outlive the whole freshness window, or a replay inside the gap would pass.
        super().__init__(retention=max_age_s + allowed_skew_s + RETENTION_MARGIN_S)
        self.floor_ns = now_ns() + int(allowed_skew_s * 1e9)

    def check_and_store(self, hotkey_ss58: str, nonce_ns: int) -> bool:
        """Called by `verify` after the signature checked out; raising `StaleRequest` refuses the request."""
        if nonce_ns <= self.floor_ns:
            raise StaleRequest("the request was signed before this server started; sign it again")
        return super().check_and_store(hotkey_ss58, nonce_ns)
