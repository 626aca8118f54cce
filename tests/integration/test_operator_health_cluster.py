"""Health in status: WeightsHealthy from a real validator on the local chain, ScoreHealthy from exact EMAs,
and an operator that keeps working, and says why, when Prometheus is away.

The validator process binds its /metrics to its pod's IP (the fake kubelet's loopback address), where
Prometheus finds it through the API server as it would in a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ocr_subnet import metric_names as names
from ocr_subnet.chain.local import HEALTH_PATH, LocalChainClient
from ocr_subnet.local.procs import Child, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.wallets import local_wallet
from subnet_operator import api

from tests.integration.operator_harness import (
    LOOPBACK,
    SETTLE_S,
    FakeExporter,
    PodDiscovery,
    Resources,
    install_crds,
    miner_manifest,
    running_operator,
    static_config,
    validator_manifest,
)
from tests.support.cluster import Cluster
from tests.support.poll import wait_until
from tests.support.ports import free_port
from tests.support.prometheus import Prometheus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartPrometheus = Callable[[Mapping[str, Any]], Prometheus]
NETUID = 1
BLOCK_TIME_S, TEMPO, RATE_LIMIT = 0.25, 8, 4  # weights every 8 blocks (2 s); stale after 2 * 8 + 4 blocks
REFUSED_VERSION = 10**9  # a chain restarted to demand this version refuses every weight set from now on


@pytest.fixture
def cluster(k8s_cluster: Cluster) -> Cluster:
    install_crds(k8s_cluster)
    return k8s_cluster


class LocalChain:
    """`ocr-subnet chain serve` on a fixed port and state file, restartable with other parameters."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.child: Child | None = None

    def start(self, weights_version: int = 0) -> LocalChain:
        argv = [
            *ocr_subnet_command(),
            *("chain", "serve", "--port", str(self.port), "--state", str(self.workdir / "chain.json")),
            *("--netuid", str(NETUID), "--block-time", str(BLOCK_TIME_S), "--tempo", str(TEMPO)),
            *("--weights-rate-limit", str(RATE_LIMIT), "--weights-version", str(weights_version)),
        ]
        self.child = spawn("chain", argv, self.workdir / "chain.log")
        wait_healthy(self.url + HEALTH_PATH, SETTLE_S, self.child)
        return self

    def stop(self) -> None:
        if self.child is not None:
            stop_all([self.child])


def start_validator(chain: LocalChain, wallets: Path, ip: str, port: int, workdir: Path) -> Child:
    """`ocr-subnet validator` with /metrics at its pod's IP and port, as the pod would run it."""
    argv = [
        *ocr_subnet_command(),
        *("validator", "--network", chain.url, "--netuid", str(NETUID), "--wallet-path", str(wallets)),
        *("--wallet-name", "validator", "--state", str(workdir / "state.json")),
        *("--metrics-host", ip, "--metrics-port", str(port), "--sample-size", "1"),
        *("--round-interval", "1", "--deadline", "2", "--chain-timeout", "5"),
        *("--allowed-axon-network", "127.0.0.0/8"),  # the miner's axon is on loopback
    ]
    child = spawn("validator", argv, workdir / "validator.log")
    wait_healthy(f"http://{ip}:{port}/metrics", SETTLE_S, child)
    return child


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[LocalChain]:
    local = LocalChain(tmp_path).start()
    yield local
    local.stop()


def test_weights_healthy_turns_false_with_an_event_when_weight_setting_stops(
    cluster: Cluster, k8s_namespace: str, prometheus: StartPrometheus, chain: LocalChain, tmp_path: Path
) -> None:
    if cluster.local is None:
        pytest.skip(
            "binds the validator to a pod's loopback IP, which only the local control plane's fake kubelet gives"
        )
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    wallets = tmp_path / "wallets"
    registry = LocalChainClient(chain.url, NETUID)
    registry.register(local_wallet("validator", "default", wallets), 1000.0)
    miner = local_wallet("miner", "default", wallets)  # something to weigh: a registered, served axon
    registry.register(miner, 0.0)
    registry.serve_axon(miner, LOOPBACK, free_port())
    discovery = PodDiscovery(cluster, ns)
    server = prometheus(discovery.config())
    health = {"weights": {"maxEpochsWithoutWeights": 2, "maxFailureRate": 0.5, "windowSeconds": 30}}
    validator: Child | None = None
    try:
        with running_operator(cluster, ns, tmp_path / "operator.log", namespaces=[ns], prometheus_url=server.url):
            resources.apply(validator_manifest("v1", chain={"endpoint": chain.url, "netuid": NETUID}, health=health))
            [ip] = wait_until(lambda: resources.pod_ips("v1", api.VALIDATOR_COMPONENT), "v1's pod running")
            validator = start_validator(chain, wallets, ip, 9101, tmp_path)
            healthy = wait_until(
                lambda: resources.has_condition(api.VALIDATOR, "v1", api.WEIGHTS_HEALTHY, "True"),
                "WeightsHealthy True",
                timeout_s=SETTLE_S,
            )
            assert healthy["reason"] == "WeightsSet"
            status = resources.get(api.VALIDATOR, "v1")["status"]
            assert status["weightSetBlockLimit"] == 2 * TEMPO + RATE_LIMIT
            assert 0 <= status["blocksSinceWeightSet"] <= status["weightSetBlockLimit"]
            assert status["hotkey"] == local_wallet("validator", "default", wallets).hotkey.ss58_address
            assert resources.event("v1", "WeightsSet") is not None

            chain.stop()  # the chain comes back demanding a version no validator has: weights stop
            chain.start(weights_version=REFUSED_VERSION)
            sick = wait_until(
                lambda: resources.has_condition(api.VALIDATOR, "v1", api.WEIGHTS_HEALTHY, "False"),
                "WeightsHealthy False",
                timeout_s=SETTLE_S,
            )
            assert sick["reason"] in {"WeightSetFailing", "WeightsStale"}
            event = wait_until(lambda: resources.event("v1", sick["reason"]), "an Event for the transition")
            assert event.type == "Warning"
            assert event.message.startswith("WeightsHealthy True -> False: ")
            assert resources.get(api.VALIDATOR, "v1")["status"]["phase"] == "Degraded"
    finally:
        if validator is not None:
            stop_all([validator])
        discovery.close()


@pytest.fixture
def exporter() -> Iterator[FakeExporter]:
    fake = FakeExporter()
    yield fake
    fake.close()


def test_score_healthy_reports_mean_rank_and_uid_and_turns_false_on_a_low_ema(
    cluster: Cluster, k8s_namespace: str, prometheus: StartPrometheus, exporter: FakeExporter, tmp_path: Path
) -> None:
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    # One fake target stands for m1's miner pod (its hotkey) and for a validator (its EMAs of three miners).
    server = prometheus(static_config({exporter.target: {"namespace": ns, "pod": "m1-miner-5f6d7c8b9-q7w8e"}}))
    exporter.set_gauge(names.MINER_IN_FLIGHT, 0.0, miner_hotkey="5Mine")
    for hotkey, uid, ema in (("5Mine", "3", 0.6), ("5Best", "1", 0.9), ("5Weak", "2", 0.2)):
        exporter.set_gauge(names.VALIDATOR_MINER_EMA, ema, validator_hotkey="5Val", uid=uid, miner_hotkey=hotkey)
    with running_operator(
        cluster, ns, tmp_path / "operator.log", namespaces=[ns], prometheus_url=server.url
    ) as operator:
        resources.apply(miner_manifest("m1", backend="tesseract"))
        wait_until(lambda: resources.has_condition(api.MINER, "m1", api.SCORE_HEALTHY, "True"), "ScoreHealthy True")
        status = resources.get(api.MINER, "m1")["status"]
        assert (status["uid"], status["ema"], status["rank"], status["hotkey"]) == (3, 0.6, 2, "5Mine")
        assert status["validators"] == [{"hotkey": "5Val", "ema": 0.6}]
        row = resources.cluster.kubectl("get", "miner", "m1", "-n", ns, "--no-headers").stdout.split()
        assert row[:4] == ["m1", "Running", "3", "0.6"]

        exporter.set_gauge(names.VALIDATOR_MINER_EMA, 0.01, validator_hotkey="5Val", uid="3", miner_hotkey="5Mine")
        low = wait_until(
            lambda: resources.has_condition(api.MINER, "m1", api.SCORE_HEALTHY, "False"), "ScoreHealthy False"
        )
        assert low["reason"] == "LowScore"
        assert low["message"] == "mean EMA 0.010 over 1 validator(s), rank 3; minimum 0.05"
        event = wait_until(lambda: resources.event("m1", "LowScore"), "a LowScore Event")
        assert (event.type, event.message) == ("Warning", f"ScoreHealthy True -> False: {low['message']}")
        labels = f'condition="{api.SCORE_HEALTHY}",kind="Miner",name="m1",namespace="{ns}"'
        assert f"{names.OPERATOR_HEALTH}{{{labels}}} 0.0" in operator.metrics()


def test_an_unreachable_prometheus_leaves_conditions_unknown_and_the_operator_working(
    cluster: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    nobody = f"http://{LOOPBACK}:{free_port()}"  # nothing listens here
    with running_operator(cluster, ns, tmp_path / "operator.log", namespaces=[ns], prometheus_url=nobody) as operator:
        resources.apply(miner_manifest("m1"), validator_manifest("v1"))
        watched = ((api.MINER, "m1", api.SCORE_HEALTHY), (api.VALIDATOR, "v1", api.WEIGHTS_HEALTHY))
        for kind, name, condition in watched:
            probe = lambda k=kind, n=name, c=condition: resources.has_condition(k, n, c, "Unknown")  # noqa: E731
            unknown = wait_until(probe, f"{name} {condition} Unknown")
            assert unknown["reason"] == "PrometheusUnavailable"
            assert unknown["message"].startswith(f"Prometheus at {nobody} is unreachable")
        wait_until(lambda: resources.converged(api.MINER, "m1"), "m1 Ready regardless", timeout_s=SETTLE_S)
        scaling = resources.get(api.MINER, "m1")["status"]["scaling"]
        assert scaling["reason"] == "MetricsUnavailable"
        assert resources.deployment("m1-triton").spec.replicas == 1
        resources.apply(miner_manifest("m2"))  # still reconciling new work
        wait_until(lambda: resources.converged(api.MINER, "m2"), "m2 Ready", timeout_s=SETTLE_S)
        assert operator.alive
