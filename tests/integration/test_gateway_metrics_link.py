"""The gateway and the validator linked over HTTP alone, as in a cluster (no shared volume), with real
processes on loopback: the local chain, two tesseract miners, two gateway replicas and a validator.

The gateways rank miners by the EMA gauge on a validator metrics endpoint (the validator's own
`ValidatorMetrics` server, its EMAs set by the test so the ranking can be flipped), and the validator
process blends in the organic scores it reads from both replicas' /metrics, weighted by pages, while a
third URL is down.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ocr_subnet import metric_names as names
from ocr_subnet.gateway.keys import add_key
from ocr_subnet.local.procs import Child, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import LOOPBACK, LOOPBACK_NETWORK, VALIDATOR_WALLET, LocalSubnet, UpConfig, ocr_subnet_command
from ocr_subnet.validator.metrics import ValidatorMetrics
from ocr_subnet.validator.policy import MinerScore
from ocr_subnet.validator.state import state_from_json
from PIL import Image, ImageDraw
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from tests.support.poll import wait_until
from tests.support.ports import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOUND_S = 120.0
ALPHA = 0.5


@dataclass
class Link:
    subnet: LocalSubnet
    validator_metrics: ValidatorMetrics
    miners: dict[int, str]  # uid -> hotkey
    gateways: list[str]  # base URLs of the two replicas
    key: str
    wallets: Path
    tmp: Path


def page() -> bytes:
    image = Image.new("L", (640, 160), 255)
    ImageDraw.Draw(image).text((20, 60), "Organic page for the gateway link", fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Link]:
    tmp = tmp_path_factory.mktemp("link")
    subnet = LocalSubnet(UpConfig(home=tmp / "home", miners=2, startup_timeout_s=BOUND_S), tmp)
    children: list[Child] = []
    stops: list[Callable[[], object]] = []
    try:
        subnet.start_chain()
        hotkey = subnet.register_validator().hotkey.ss58_address
        subnet.start_miners()
        metagraph = subnet.client.metagraph()
        miners = {n.uid: n.hotkey for n in metagraph.neurons if n.hotkey != hotkey}
        validator_metrics = ValidatorMetrics(hotkey)
        server, thread = start_http_server(0, addr=LOOPBACK, registry=validator_metrics.registry)
        stops.append(lambda: (server.shutdown(), server.server_close(), thread.join(BOUND_S)))
        metrics_port = server.server_address[1]
        first, second = sorted(miners)
        rank(validator_metrics, miners, {first: 0.9, second: 0.1})  # before the gateways start: read at startup
        keys = tmp / "keys.json"
        key = add_key(keys, "link")
        gateways = []
        for index, port in enumerate(free_ports(2)):
            child = spawn(
                f"gateway-{index}",
                [
                    *ocr_subnet_command(),
                    *("gateway", "serve", "--network", subnet.chain_url, "--netuid", "1"),
                    *("--wallet-path", str(subnet.wallets_dir), "--wallet-name", VALIDATOR_WALLET),
                    *("--host", LOOPBACK, "--port", str(port), "--api-keys", str(keys)),
                    *("--validator-metrics", f"http://{LOOPBACK}:{metrics_port}/metrics"),
                    *("--allowed-axon-network", LOOPBACK_NETWORK, "--deadline", "20"),
                    # one miner per page, the best by EMA, and its answer is the user's
                    *("--top-k", "1", "--hedge", "1", "--explore", "0", "--pass-threshold", "0"),
                ],
                tmp / "logs" / f"gateway-{index}.log",
            )
            children.append(child)
            gateways.append(f"http://{LOOPBACK}:{port}")
        for child, url in zip(children, gateways, strict=True):
            wait_healthy(url + "/healthz", BOUND_S, child)
        found = Link(subnet, validator_metrics, miners, gateways, key, subnet.wallets_dir, tmp)
        for url in gateways:  # a miner refuses what was signed in its first seconds (`replay`): until then, no answer
            wait_until(lambda url=url: read_one_page(found, url) is not None, "a miner's first answer", BOUND_S)
        yield found
    finally:
        stop_all(children)
        subnet.stop()
        for stop in stops:
            stop()


def read_one_page(link: Link, gateway: str) -> int:
    """The uid of the miner whose answer the page got."""
    response = httpx.post(
        gateway + "/v1/ocr",
        content=page(),
        headers={"Authorization": f"Bearer {link.key}", "Content-Type": "image/png"},
        timeout=BOUND_S,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    (answer,) = response.json()["pages"]
    return answer["miner_uid"]


def rank(metrics: ValidatorMetrics, miners: dict[int, str], emas: dict[int, float]) -> None:
    """What the validator's EMA gauge says from now on."""
    metrics.set_miners({miners[uid]: MinerScore(uid=uid, ema=ema) for uid, ema in emas.items()}, {})


def organic(gateway: str) -> dict[str, tuple[float, float]]:
    """hotkey -> (organic EMA, pages) as one replica's /metrics says, read independently of the code under test."""
    text = httpx.get(gateway + "/metrics", timeout=10.0, trust_env=False).text
    emas: dict[str, float] = {}
    pages: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == names.GATEWAY_ORGANIC_EMA:
                emas[sample.labels["miner_hotkey"]] = sample.value
            elif sample.name == names.GATEWAY_VERIFICATIONS:
                hotkey = sample.labels["miner_hotkey"]
                pages[hotkey] = pages.get(hotkey, 0.0) + sample.value
    return {hotkey: (ema, pages[hotkey]) for hotkey, ema in emas.items()}


def test_gateways_rank_by_the_validators_ema_and_the_validator_blends_both_replicas(link: Link) -> None:
    first, second = sorted(link.miners)  # ranked first > second since before the gateways started
    assert [read_one_page(link, link.gateways[0]) for _ in range(3)] == [first] * 3
    assert read_one_page(link, link.gateways[1]) == first

    rank(link.validator_metrics, link.miners, {first: 0.05, second: 0.8})  # read again at the gateways' next refresh
    wait_until(lambda: read_one_page(link, link.gateways[1]) == second, "replica 1 ranking by the new EMAs", BOUND_S)
    wait_until(lambda: read_one_page(link, link.gateways[0]) == second, "replica 0 ranking by the new EMAs", BOUND_S)
    assert [read_one_page(link, gateway) for gateway in link.gateways] == [second, second]

    replicas = [organic(gateway) for gateway in link.gateways]
    expected = {}
    for uid, hotkey in link.miners.items():
        seen = [replica[hotkey] for replica in replicas if hotkey in replica]
        assert len(seen) == 2, f"uid {uid} was read by both replicas"
        expected[hotkey] = sum(ema * pages for ema, pages in seen) / sum(pages for _ema, pages in seen)
    (ema_0, pages_0), (ema_1, pages_1) = (replica[link.miners[first]] for replica in replicas)
    assert pages_0 != pages_1 and ema_0 != ema_1  # so weighting by pages is not the plain mean
    assert expected[link.miners[first]] != pytest.approx((ema_0 + ema_1) / 2, abs=1e-6)

    down = free_ports(1)[0]
    state = link.tmp / "validator" / "state.json"
    validator = spawn(
        "validator",
        [
            *ocr_subnet_command(),
            *("validator", "--network", link.subnet.chain_url, "--netuid", "1"),
            *("--wallet-path", str(link.wallets), "--wallet-name", VALIDATOR_WALLET),
            *("--state", str(state), "--metrics-port", "0", "--sample-size", "2", "--rounds", "1"),
            *("--ema-alpha", str(ALPHA), "--deadline", "30", "--allowed-axon-network", LOOPBACK_NETWORK),
            *(part for gateway in link.gateways for part in ("--organic-metrics", gateway + "/metrics")),
            *("--organic-metrics", f"http://{LOOPBACK}:{down}/metrics"),  # a replica that is down
            *("--organic-weight", "1"),  # the reward is then the organic EMA alone: exact to check
        ],
        link.tmp / "logs" / "validator.log",
    )
    assert validator.process.wait(BOUND_S) == 0, validator.log_tail(40)
    scores = state_from_json(state.read_bytes()).scores
    for hotkey, organic_ema in expected.items():
        # from 0: ema = alpha * r, r = (1 - 1) * synthetic + 1 * organic
        assert scores[hotkey].ema == pytest.approx(ALPHA * organic_ema, abs=1e-9), hotkey
    events = [json.loads(line) for line in validator.log_path.read_text().splitlines() if line.startswith("{")]
    failed = [event["url"] for event in events if event["event"] == "feed_failed"]
    assert failed == [f"http://{LOOPBACK}:{down}/metrics"]  # logged; the round went on without it
