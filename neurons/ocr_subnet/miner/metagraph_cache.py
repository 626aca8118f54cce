"""The last metagraph read from chain, refreshed in the background.

Requests are decided from the cached copy only, so a chain outage delays the next refresh but never
fails a request: the miner keeps answering from what it last knew.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ocr_subnet.chain.port import ChainPort, ChainUnavailable, Metagraph
from ocr_subnet.logs import log_event

logger = logging.getLogger(__name__)


class MetagraphCache:
    def __init__(self, chain: ChainPort, refresh_s: float, timeout_s: float) -> None:
        self._chain = chain
        self._refresh_s = refresh_s
        self._timeout_s = timeout_s
        self._current: Metagraph | None = None
        self._fetched_at = 0.0

    @property
    def current(self) -> Metagraph | None:
        return self._current

    def age_s(self) -> float | None:
        return None if self._current is None else time.monotonic() - self._fetched_at

    async def refresh(self) -> bool:
        """One read from chain. An unreachable chain leaves the old copy and returns False; a chain
        that refuses (`ChainRejected`: unknown subnet) raises, as retrying cannot help."""
        try:
            metagraph = await asyncio.wait_for(asyncio.to_thread(self._chain.metagraph), self._timeout_s)
        except (ChainUnavailable, TimeoutError) as exc:
            log_event(logger, "metagraph_refresh_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            return False
        changed = self._current is None or self._current.block != metagraph.block
        self._current = metagraph
        self._fetched_at = time.monotonic()
        if changed:
            log_event(logger, "metagraph_refreshed", block=metagraph.block, neurons=len(metagraph.neurons))
        return True

    async def refresh_forever(self) -> None:
        """Never ends on a chain error: requests keep being decided from the last good copy."""
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # a refusal or adapter bug must not stop the refreshes
                log_event(logger, "metagraph_refresh_failed", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
