"""What the gateway and the validator read from each other's /metrics: the parsing and combining rules
(`gateway.exchange`) on the real producers' expositions and on broken ones, and the bounded scrape
(`gateway.feeds`) against raw HTTP servers on loopback that misbehave on purpose."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from ocr_subnet import metric_names as names
from ocr_subnet.gateway.exchange import FeedError, combine, organic_scores, read_samples, validator_emas
from ocr_subnet.gateway.feeds import Feed, check_url, replica_urls
from ocr_subnet.gateway.metrics import GatewayMetrics
from ocr_subnet.gateway.organic import OrganicScore
from ocr_subnet.validator.metrics import ValidatorMetrics
from ocr_subnet.validator.policy import MinerScore

OURS, OTHER = "5Ours", "5Other"
EMA = names.VALIDATOR_MINER_EMA
ORGANIC = names.GATEWAY_ORGANIC_EMA
VERIFIED = names.GATEWAY_VERIFICATIONS
BOUND_S = 30.0


def validator_exposition(hotkey: str, emas: dict[str, float]) -> str:
    metrics = ValidatorMetrics(hotkey)
    scores = {miner: MinerScore(uid=uid, ema=ema) for uid, (miner, ema) in enumerate(emas.items(), start=1)}
    metrics.set_miners(scores, {})
    return metrics.render().decode()


def gateway_exposition(scores: dict[str, tuple[float, int, int]]) -> str:
    """hotkey -> (organic EMA, passed pages, failed pages), as the gateway's own metrics expose them."""
    metrics = GatewayMetrics()
    for hotkey, (ema, passed, failed) in scores.items():
        metrics.verifications.labels(hotkey, "passed").inc(passed)
        metrics.verifications.labels(hotkey, "failed").inc(failed)
        metrics.organic_ema.labels(hotkey).set(ema)
    return metrics.exposition().decode()


# the validator's EMAs, for the gateway's ranking


def test_the_gateway_reads_its_validators_emas_from_the_validators_own_exposition() -> None:
    text = validator_exposition(OURS, {"m1": 0.9, "m2": 0.25}) + validator_exposition(OTHER, {"m1": 0.1})
    reading = validator_emas(text, OURS)
    assert reading.values == {"m1": 0.9, "m2": 0.25}  # another validator's series are not ours
    assert reading.skipped == ()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (f'{EMA}{{uid="3",miner_hotkey="m3"}} 0.5', "without validator_hotkey"),
        (f'{EMA}{{validator_hotkey="{OURS}",uid="3"}} 0.5', "without miner_hotkey"),
        (f'{EMA}{{validator_hotkey="{OURS}",miner_hotkey="m3"}} 0.5', "without uid"),
        (f'{EMA}{{validator_hotkey="{OURS}",uid="3",miner_hotkey=""}} 0.5', "without miner_hotkey"),
        (f'{EMA}{{validator_hotkey="{OURS}",uid="3",miner_hotkey="m3"}} NaN', "nan is not in [0, 1]"),
        (f'{EMA}{{validator_hotkey="{OURS}",uid="3",miner_hotkey="m3"}} +Inf', "inf is not in [0, 1]"),
        (f'{EMA}{{validator_hotkey="{OURS}",uid="3",miner_hotkey="m3"}} -0.1', "-0.1 is not in [0, 1]"),
        (f'{EMA}{{validator_hotkey="{OURS}",uid="3",miner_hotkey="m3"}} 1.5', "1.5 is not in [0, 1]"),
    ],
)
def test_an_unusable_ema_sample_is_left_out_and_named_the_rest_is_kept(line: str, says: str) -> None:
    text = validator_exposition(OURS, {"m1": 0.75}) + line + "\n"
    reading = validator_emas(text, OURS)
    assert reading.values == {"m1": 0.75}
    (problem,) = reading.skipped
    assert says in problem and EMA in problem


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>502 Bad Gateway</body></html>\n",
        "garbage here\n",
        f'{EMA}{{validator_hotkey="{OURS}",uid="1}} 0.5\n',  # an unterminated label value
        "\x00\x01\x02",
        f'{EMA}{{validator_hotkey="{OURS}",uid="1",miner_hotkey="m1"}} 0.5\n{EMA}{{ 1\n',  # broken after good
    ],
)
def test_a_body_that_is_no_exposition_is_refused_whole(body: str) -> None:
    with pytest.raises(FeedError, match="not a Prometheus text exposition"):
        validator_emas(body, OURS)
    with pytest.raises(FeedError, match="not a Prometheus text exposition"):
        organic_scores(body)


def test_an_empty_exposition_is_an_empty_reading() -> None:
    assert validator_emas("", OURS).values == {} and organic_scores("").values == {}
    assert read_samples("# nothing but a comment\n", {EMA}) == []


# a gateway replica's organic scores, for the validator's reward


def test_a_replicas_organic_scores_carry_the_pages_behind_them() -> None:
    text = gateway_exposition({"m1": (0.6, 3, 1), "m2": (0.1, 0, 2)})
    reading = organic_scores(text)
    assert reading.values == {"m1": OrganicScore(ema=0.6, pages=4), "m2": OrganicScore(ema=0.1, pages=2)}
    assert reading.skipped == ()


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (f"{ORGANIC}{{}} 0.5", f"{ORGANIC} sample without miner_hotkey"),
        (f'{VERIFIED}{{result="passed"}} 4', f"{VERIFIED} sample without miner_hotkey"),
        (f'{ORGANIC}{{miner_hotkey="m9"}} NaN', "nan is not in [0, 1]"),
        (f'{ORGANIC}{{miner_hotkey="m9"}} 2', "= 2 is not in [0, 1]"),
        (f'{VERIFIED}{{miner_hotkey="m9",result="passed"}} -3', "= -3 is no count"),
        (f'{VERIFIED}{{miner_hotkey="m9",result="passed"}} +Inf', "= inf is no count"),
        (f'{ORGANIC}{{miner_hotkey="m9"}} 0.5', "has no verified pages to weigh it"),
    ],
)
def test_an_unusable_organic_sample_is_left_out_and_named(extra: str, says: str) -> None:
    text = gateway_exposition({"m1": (0.6, 3, 1)}) + extra + "\n"
    reading = organic_scores(text)
    assert reading.values == {"m1": OrganicScore(ema=0.6, pages=4)}
    assert len(reading.skipped) == 1 and says in reading.skipped[0]


def test_replicas_combine_weighted_by_the_pages_behind_each() -> None:
    first = {"m1": OrganicScore(ema=0.2, pages=30), "m2": OrganicScore(ema=0.5, pages=1)}
    second = {"m1": OrganicScore(ema=0.8, pages=10)}
    combined = combine([first, second, {}])
    assert combined["m1"].pages == 40 and combined["m1"].ema == pytest.approx((0.2 * 30 + 0.8 * 10) / 40)
    assert combined["m2"] == OrganicScore(ema=0.5, pages=1)  # seen by one replica only
    assert combine([]) == {}


# the bounded scrape


@dataclass
class Server:
    """A raw HTTP/1.1 server on loopback; `answer` is what it does with each request, switchable."""

    answer: Callable[[asyncio.StreamWriter], object]
    host: str = "127.0.0.1"
    port: int = 0
    hits: int = 0
    servers: list[asyncio.Server] = field(default_factory=list)

    async def start(self) -> Server:
        server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        self.servers.append(server)
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.hits += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            result = self.answer(writer)
            if asyncio.iscoroutine(result):
                await result
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def close(self) -> None:
        for server in self.servers:
            server.close()


def respond(
    body: bytes, status: str = "200 OK", headers: str = "", length: int | None = None
) -> Callable[[asyncio.StreamWriter], None]:
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\n{headers}"
    return lambda writer: writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)


async def endless(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    line = f'{ORGANIC}{{miner_hotkey="m1"}} 0.5\n'.encode() * 1000
    for _ in range(10_000):  # 380 MB if nobody stopped reading
        writer.write(line)
        await writer.drain()


async def silent(_writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.close()


async def serve(
    servers: list[Server], answer: Callable[[asyncio.StreamWriter], object], host: str = "127.0.0.1", port: int = 0
) -> Server:
    server = await Server(answer, host, port).start()
    servers.append(server)
    return server


def organic_feed(*urls: str, clock: Callable[[], float] = lambda: 0.0, **kw: Any) -> Feed[OrganicScore]:
    return Feed("organic", urls, organic_scores, clock=clock, **kw)


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    """The fields of each `event` line (`logs.log_event` puts them on the record)."""
    return [record.fields for record in caplog.records if record.getMessage() == event]


GOOD = gateway_exposition({"m1": (0.6, 3, 1)}).encode()


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (respond(b"oops", "500 Internal Server Error"), "HTTP 500"),
        (respond(gzip.compress(GOOD), headers="Content-Encoding: gzip\r\n"), "compressed answer (gzip)"),
        (respond(b"\xff\xfe" + GOOD), "not UTF-8 text"),
        (respond(b"<html>hi</html>\n"), "not a Prometheus text exposition"),
        (respond(b"", length=10**9), "exposition too large: declared 1000000000 bytes"),
        (endless, "exposition too large: more than 65536 bytes"),
        (silent, "no complete answer within 0.5s"),
    ],
)
async def test_a_replica_that_gives_nothing_usable_is_logged_and_left_out(
    servers: list[Server], answer: Callable[[asyncio.StreamWriter], object], says: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = await serve(servers, answer)
    good = await serve(servers, respond(GOOD))
    feed = organic_feed(bad.url, good.url, timeout_s=0.5, max_bytes=64 * 1024)
    with caplog.at_level(logging.WARNING, logger="ocr_subnet.gateway.feeds"):
        readings = await asyncio.wait_for(feed.refresh(), BOUND_S)
    assert readings == [{"m1": OrganicScore(ema=0.6, pages=4)}]  # the good replica's, and nothing else
    (failed,) = logged(caplog, "feed_failed")
    assert failed["url"] == bad.url and says in failed["error"]


async def test_an_unreachable_replica_is_logged_and_nothing_raises(caplog: pytest.LogCaptureFixture) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()  # nothing listens there now: connections are refused
    with caplog.at_level(logging.WARNING, logger="ocr_subnet.gateway.feeds"):
        assert await organic_feed(f"http://127.0.0.1:{port}/metrics").refresh() == []
    (failed,) = logged(caplog, "feed_failed")
    assert "ConnectError" in failed["error"]


async def test_a_stale_reading_counts_until_it_is_older_than_the_max_age(servers: list[Server]) -> None:
    now = [100.0]
    replica = await serve(servers, respond(GOOD))
    feed = organic_feed(replica.url, clock=lambda: now[0], max_age_s=60.0)
    assert await feed.refresh() == [{"m1": OrganicScore(ema=0.6, pages=4)}]
    replica.answer = respond(b"down", "503 Service Unavailable")
    now[0] = 160.0
    assert await feed.refresh() == [{"m1": OrganicScore(ema=0.6, pages=4)}]  # 60 s old: still counts
    now[0] = 160.5
    assert await feed.refresh() == []  # aged out
    replica.answer = respond(gateway_exposition({"m1": (0.9, 5, 0)}).encode())
    assert await feed.refresh() == [{"m1": OrganicScore(ema=0.9, pages=5)}]  # back, fresh


async def test_a_name_is_read_at_every_address_it_resolves_to(servers: list[Server]) -> None:
    """A headless Service's name resolves to every ready gateway pod: each is one replica."""
    v4 = await serve(servers, respond(gateway_exposition({"m1": (0.2, 30, 0)}).encode()))
    await serve(servers, respond(gateway_exposition({"m1": (0.8, 10, 0)}).encode()), host="::1", port=v4.port)
    asked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1", "::1"]

    url = f"http://gateway-pods.ns.svc:{v4.port}/metrics"
    assert await replica_urls(url, resolve) == [
        f"http://127.0.0.1:{v4.port}/metrics",
        f"http://[::1]:{v4.port}/metrics",
    ]
    readings = await organic_feed(url, resolve=resolve).refresh()
    combined = combine(readings)["m1"]
    assert combined.pages == 40 and combined.ema == pytest.approx((0.2 * 30 + 0.8 * 10) / 40)
    assert asked == [("gateway-pods.ns.svc", v4.port)] * 2
    assert await replica_urls("http://127.0.0.1:9/metrics", resolve) == ["http://127.0.0.1:9/metrics"]
    assert len(asked) == 2  # an address is not looked up


async def test_a_name_that_does_not_resolve_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        raise OSError(f"no such host {host}")

    with caplog.at_level(logging.WARNING, logger="ocr_subnet.gateway.feeds"):
        assert await organic_feed("http://gone.ns.svc/metrics", resolve=resolve).refresh() == []
    (unresolved,) = logged(caplog, "feed_unresolved")
    assert "no such host gone.ns.svc" in unresolved["error"]


async def test_a_malformed_url_given_in_code_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ocr_subnet.gateway.feeds"):
        assert await organic_feed("http://[::1/metrics").refresh() == []
    (unresolved,) = logged(caplog, "feed_unresolved")
    assert "InvalidURL" in unresolved["error"]


@pytest.mark.parametrize(
    "url", ["validator:9101/metrics", "ftp://validator/metrics", "http:///metrics", "http://[::1/metrics"]
)
def test_a_url_that_is_not_http_is_refused_naming_it(url: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        check_url(url)
