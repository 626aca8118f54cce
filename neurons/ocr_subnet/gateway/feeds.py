"""Scores read over HTTP from another process's `/metrics` (the rules are in `exchange`).

Bounded in time (`timeout_s` for a name lookup, again for a scrape) and size (`max_bytes`, never
buffered past it), and never raising into the caller: a validator round or a gateway page must not wait
on, or fail with, its peer. A URL's host is resolved to every address it has and each address is
scraped as one replica, so a headless Service's name reaches every ready pod behind it. A replica that
fails keeps its last good reading until that is older than `max_age_s`; then it is dropped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx

from ocr_subnet.gateway.exchange import FeedError, Reading
from ocr_subnet.logs import log_event
from ocr_subnet.validator.query import TooLarge, read_capped

log = logging.getLogger(__name__)

T = TypeVar("T")
TIMEOUT_S = 5.0
MAX_EXPOSITION_BYTES = 4 * 1024 * 1024  # a validator's series for 4096 miners fit in a tenth of it
MAX_AGE_S = 300.0
SKIPPED_SHOWN = 3  # problems named in one log line
Resolver = Callable[[str, int], Awaitable[list[str]]]  # (host, port) -> addresses


def check_url(url: str) -> str:
    """An http(s) URL with a host, or ValueError naming what is wrong."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    return url


async def resolve_all(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def replica_urls(url: str, resolve: Resolver = resolve_all) -> list[str]:
    """One URL per address of the URL's host (the URL itself for an address)."""
    parsed = httpx.URL(url)
    try:
        ipaddress.ip_address(parsed.host)
    except ValueError:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return [str(parsed.copy_with(host=address)) for address in await resolve(parsed.host, port)]
    return [url]


async def scrape(
    client: httpx.AsyncClient, url: str, timeout_s: float = TIMEOUT_S, max_bytes: int = MAX_EXPOSITION_BYTES
) -> str:
    """The exposition at `url` as text, or FeedError saying why not."""
    try:
        async with asyncio.timeout(timeout_s):
            request = client.build_request("GET", url, headers={"Accept-Encoding": "identity"}, timeout=timeout_s)
            response = await client.send(request, stream=True)
            try:
                if response.status_code != 200:
                    raise FeedError(f"HTTP {response.status_code} {response.reason_phrase}")
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding != "identity":
                    raise FeedError(f"compressed answer ({encoding}) not accepted")
                raw = await read_capped(response, max_bytes)
            finally:
                await response.aclose()
    except TooLarge as exc:
        raise FeedError(f"exposition too large: {exc}") from exc
    except TimeoutError as exc:
        raise FeedError(f"no complete answer within {timeout_s:g}s") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FeedError(f"{type(exc).__name__}: {exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError(f"not UTF-8 text: {exc}") from exc


@dataclass
class Feed(Generic[T]):
    """The latest fresh reading of every replica behind `urls`."""

    what: str  # names the feed, and what losing it means, in its log lines
    urls: tuple[str, ...]
    parse: Callable[[str], Reading[T]]
    max_age_s: float = MAX_AGE_S
    timeout_s: float = TIMEOUT_S
    max_bytes: int = MAX_EXPOSITION_BYTES
    clock: Callable[[], float] = time.monotonic
    resolve: Resolver = resolve_all
    readings: dict[str, tuple[float, dict[str, T]]] = field(default_factory=dict)  # replica URL -> (when, values)

    async def refresh(self) -> list[dict[str, T]]:
        """Every replica scraped at once; the readings still fresh afterwards, one per replica."""
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
            found = await asyncio.gather(*(self._replicas(url) for url in self.urls))
            targets = sorted({target for targets in found for target in targets})
            read = await asyncio.gather(*(self._read(client, target) for target in targets))
        now = self.clock()
        fresh = {target: (now, values) for target, values in zip(targets, read, strict=True) if values is not None}
        self.readings.update(fresh)
        for target, (at, _values) in list(self.readings.items()):
            if now - at > self.max_age_s:
                del self.readings[target]
                log_event(log, "feed_reading_expired", logging.WARNING, feed=self.what, url=target, age_s=now - at)
        return [values for _at, values in self.readings.values()]

    async def _replicas(self, url: str) -> list[str]:
        try:
            return await asyncio.wait_for(replica_urls(url, self.resolve), self.timeout_s)
        except (OSError, TimeoutError, httpx.InvalidURL) as exc:
            log_event(log, "feed_unresolved", logging.WARNING, feed=self.what, url=url, error=repr(exc))
            return []

    async def _read(self, client: httpx.AsyncClient, url: str) -> dict[str, T] | None:
        try:
            reading = self.parse(await scrape(client, url, self.timeout_s, self.max_bytes))
        except FeedError as exc:
            log_event(log, "feed_failed", logging.WARNING, feed=self.what, url=url, error=str(exc))
            return None
        if reading.skipped:
            log_event(
                log,
                "feed_samples_skipped",
                logging.WARNING,
                feed=self.what,
                url=url,
                skipped=len(reading.skipped),
                first=list(reading.skipped[:SKIPPED_SHOWN]),
            )
        return reading.values
