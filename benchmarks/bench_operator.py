"""The operator on a real API server: apply-to-Deployment latency, and a full subnet of Miners converging.

Runs the local 1.20 control plane of the integration tests (or any cluster given by --kubeconfig) and
`ocr-subnet operator run` as a process, as the chart runs it.

- Latency: `kubectl apply` of one Miner until its miner Deployment exists (seen by a watch), p50/p95.
  Baseline, interleaved with it: `kubectl apply` of that same Deployment (built by the same builder),
  until the watch sees it. The difference is what the operator adds.
- Scale: one `kubectl apply` of N Miners (a full subnet is 256) until every one is reconciled, and until
  every one is Ready (its miner and Triton Deployments available), with the operator's peak RSS and CPU.
  Baseline: one `kubectl apply` of the equivalent Deployments and Services, until all are available.

    python benchmarks/bench_operator.py --samples 30 --miners 256 [--json]
"""

from __future__ import annotations

import contextlib
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from kubernetes import client, watch
from rich.console import Console
from rich.table import Table
from subnet_operator import api
from subnet_operator.builders import miner as miner_builder
from subnet_operator.builders.common import Owner
from subnet_operator.crds import miner_spec
from subnet_operator.schema import apply_defaults

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the benchmark runs the integration tests' control plane and operator harness

from tests.integration.operator_harness import OperatorProcess, install_crds, miner_manifest  # noqa: E402
from tests.support.cluster import Cluster, connect, control_plane_binaries, existing_cluster, local_cluster  # noqa: E402
from tests.support.fake_kubelet import FakeNode  # noqa: E402
from tests.support.poll import wait_until  # noqa: E402

# Room for a full subnet's pods: 256 miners and their Triton servers, with the CRDs' default requests.
BENCH_NODES = (FakeNode("bench-node-0", cpu="4000", memory="16Ti", pods=2000), FakeNode("bench-gpu-0", gpus=8))
HEALTH_INTERVAL_S = 5.0
TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Latency:
    what: str
    samples: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True)
class Scale:
    miners: int
    operator_reconciled_s: float
    operator_ready_s: float
    baseline_available_s: float
    operator_peak_rss_mib: float
    operator_cpu_s: float
    operator_deleted_s: float


class DeploymentWatch:
    """When each Deployment of a namespace was first seen, from a watch (no polling delay)."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.seen: dict[str, float] = {}
        self._watch = watch.Watch()
        self._apps = client.AppsV1Api(api_client)
        self._namespace = namespace
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # stop() cuts the stream short; nothing is read after that
            for event in self._watch.stream(self._apps.list_namespaced_deployment, self._namespace):
                self.seen.setdefault(event["object"].metadata.name, time.monotonic())

    def wait(self, name: str) -> float:
        deadline = time.monotonic() + TIMEOUT_S
        while name not in self.seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Deployment {name} never appeared")
            time.sleep(0.002)
        return self.seen[name]

    def stop(self) -> None:
        self._watch.stop()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(what: str, seconds: Sequence[float]) -> Latency:
    ms = [s * 1000 for s in seconds]
    return Latency(what, len(ms), statistics.median(ms), percentile(ms, 0.95), max(ms))


def bench_miner(name: str) -> dict[str, Any]:
    small = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
    return miner_manifest(name, resources=small, triton={"image": "ocr-subnet/triton:bench", "resources": small})


def baseline_objects(name: str, namespace: str) -> list[dict[str, Any]]:
    """What the operator makes of `bench_miner(name)`, applied directly (no owner: nothing owns them)."""
    spec = apply_defaults(miner_spec(), bench_miner(name)["spec"])
    owner = Owner("Miner", name, namespace, "none")
    objects = [
        *miner_builder.triton_objects(owner, spec, None),
        miner_builder.axon_service(owner, spec),
        miner_builder.miner_deployment(owner, spec, 30000),
    ]
    for obj in objects:
        del obj["metadata"]["ownerReferences"]
        obj["metadata"]["name"] = obj["metadata"]["name"].replace(name, f"base-{name}", 1)
    return objects


def kubectl_apply(cluster: Cluster, namespace: str, manifests: Sequence[dict[str, Any]]) -> None:
    """`kubectl apply -f -`, with no time limit of its own: a full subnet is hundreds of objects."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(list(manifests)), timeout_s=None)


def new_namespace(cluster: Cluster, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    client.CoreV1Api(cluster.api).create_namespace({"metadata": {"name": name}})
    return name


def measure_latency(cluster: Cluster, samples: int, tmp: Path) -> tuple[Latency, Latency]:
    namespace = new_namespace(cluster, "bench-latency")
    deployments = DeploymentWatch(cluster.api, namespace)
    operator = OperatorProcess(cluster.kubeconfig, tmp / "latency-operator.log", [namespace]).start()
    through_operator: list[float] = []
    direct: list[float] = []
    try:
        for i in range(samples + 1):  # the first pair warms up kubectl's cache and the operator
            name = f"lat{i}"
            started = time.monotonic()
            kubectl_apply(cluster, namespace, [bench_miner(name)])
            took = deployments.wait(api.object_name(name, api.MINER_COMPONENT)) - started
            [base] = [
                o
                for o in baseline_objects(name, namespace)
                if o["kind"] == "Deployment" and "-miner" in o["metadata"]["name"]
            ]
            started = time.monotonic()
            kubectl_apply(cluster, namespace, [base])
            base_took = deployments.wait(base["metadata"]["name"]) - started
            if i:
                through_operator.append(took)
                direct.append(base_took)
        delete_miners(cluster, namespace)
    finally:
        operator.stop()
        deployments.stop()
    return latency("Miner -> miner Deployment (operator)", through_operator), latency(
        "Deployment applied directly (baseline)", direct
    )


def miners_state(cluster: Cluster, namespace: str) -> tuple[int, int]:
    """(reconciled, Ready) counts of the namespace's Miners."""
    items = client.CustomObjectsApi(cluster.api).list_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.MINER.plural
    )["items"]
    reconciled = ready = 0
    for item in items:
        status = item.get("status", {})
        if status.get("observedGeneration") == item["metadata"]["generation"]:
            reconciled += 1
            conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
            ready += conditions.get(api.READY) == "True"
    return reconciled, ready


def available_deployments(cluster: Cluster, namespace: str) -> int:
    items = client.AppsV1Api(cluster.api).list_namespaced_deployment(namespace).items
    return sum(1 for d in items if (d.status.available_replicas or 0) >= 1)


def process_usage(pid: int) -> tuple[float, float]:
    """(RSS MiB now, CPU seconds so far) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return rss_kib / 1024, ticks / 100.0


def delete_miners(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("delete", "miners", "--all", "-n", namespace, f"--timeout={int(TIMEOUT_S)}s")


def measure_scale(cluster: Cluster, miners: int, tmp: Path) -> Scale:
    namespace = new_namespace(cluster, "bench-subnet")
    operator = OperatorProcess(
        cluster.kubeconfig, tmp / "scale-operator.log", [namespace], interval_s=HEALTH_INTERVAL_S
    ).start()
    assert operator.child is not None
    pid = operator.child.process.pid
    peak_rss, cpu_before = process_usage(pid)
    try:
        started = time.monotonic()
        kubectl_apply(cluster, namespace, [bench_miner(f"m{i}") for i in range(miners)])
        reconciled_at = ready_at = None
        while ready_at is None:
            if time.monotonic() - started > TIMEOUT_S:
                raise TimeoutError(f"{miners} Miners not Ready within {TIMEOUT_S:g}s")
            rss, _ = process_usage(pid)
            peak_rss = max(peak_rss, rss)
            reconciled, ready = miners_state(cluster, namespace)
            if reconciled == miners and reconciled_at is None:
                reconciled_at = time.monotonic() - started
            if ready == miners:
                ready_at = time.monotonic() - started
            time.sleep(0.5)
        _, cpu_after = process_usage(pid)
        started = time.monotonic()
        delete_miners(cluster, namespace)
        deleted_s = time.monotonic() - started
        # The baseline needs the cluster's service IPs back: wait for the garbage collector to free them.
        core = client.CoreV1Api(cluster.api)
        wait_until(
            lambda: not core.list_namespaced_service(namespace).items,
            "the deleted Miners' Services to be garbage-collected",
            timeout_s=600,
            interval_s=0.5,
        )
    finally:
        operator.stop()
    return Scale(
        miners=miners,
        operator_reconciled_s=reconciled_at or ready_at,
        operator_ready_s=ready_at,
        baseline_available_s=measure_baseline(cluster, miners),
        operator_peak_rss_mib=peak_rss,
        operator_cpu_s=cpu_after - cpu_before,
        operator_deleted_s=deleted_s,
    )


def measure_baseline(cluster: Cluster, miners: int) -> float:
    namespace = new_namespace(cluster, "bench-baseline")
    objects = [o for i in range(miners) for o in baseline_objects(f"m{i}", namespace)]
    wanted = sum(1 for o in objects if o["kind"] == "Deployment")
    started = time.monotonic()
    kubectl_apply(cluster, namespace, objects)
    while available_deployments(cluster, namespace) < wanted:
        if time.monotonic() - started > TIMEOUT_S:
            raise TimeoutError("the baseline Deployments never became available")
        time.sleep(0.5)
    return time.monotonic() - started


@contextlib.contextmanager
def cluster_for(kubeconfig: Path | None, scratch: Path) -> Iterator[Cluster]:
    if kubeconfig is not None:
        yield existing_cluster(kubeconfig, scratch)
        return
    with local_cluster(control_plane_binaries(), BENCH_NODES) as cluster:
        yield cluster


def main(
    samples: int = typer.Option(30, min=3, max=500, help="timed applies per latency series"),
    miners: int = typer.Option(256, min=1, max=2000, help="Miners applied at once (a full subnet: 256)"),
    kubeconfig: Path | None = typer.Option(None, help="an existing cluster instead of the local control plane"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
) -> None:
    """Time the operator against plain kubectl applies of the same objects."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-operator-") as scratch,
        cluster_for(kubeconfig, Path(scratch)) as cluster,
    ):
        install_crds(cluster)
        operator_latency, direct_latency = measure_latency(cluster, samples, Path(scratch))
        scale = measure_scale(cluster, miners, Path(scratch))
        version = client.VersionApi(connect(cluster.kubeconfig)).get_code().git_version
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "kubernetes": version,
                    "latency": [asdict(operator_latency), asdict(direct_latency)],
                    "operator_added_p50_ms": operator_latency.p50_ms - direct_latency.p50_ms,
                    "scale": asdict(scale),
                    "ready_over_baseline": scale.operator_ready_s / scale.baseline_available_s,
                }
            )
        )
        return
    console = Console()
    table = Table(title=f"apply -> Deployment on Kubernetes {version}")
    for column in ("path", "samples", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in (operator_latency, direct_latency):
        table.add_row(row.what, str(row.samples), f"{row.p50_ms:.0f}", f"{row.p95_ms:.0f}", f"{row.max_ms:.0f}")
    console.print(table)
    console.print(f"operator adds {operator_latency.p50_ms - direct_latency.p50_ms:.0f} ms at p50")
    table = Table(title=f"{scale.miners} Miners applied at once")
    for column in ("measure", "value"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("all reconciled (objects applied, status written)", f"{scale.operator_reconciled_s:.1f} s")
    table.add_row(f"all Ready (health every {HEALTH_INTERVAL_S:g} s)", f"{scale.operator_ready_s:.1f} s")
    table.add_row("baseline: equivalent Deployments applied, all available", f"{scale.baseline_available_s:.1f} s")
    table.add_row("Ready / baseline", f"{scale.operator_ready_s / scale.baseline_available_s:.2f}x")
    table.add_row("operator peak RSS", f"{scale.operator_peak_rss_mib:.0f} MiB")
    table.add_row("operator CPU until all Ready", f"{scale.operator_cpu_s:.1f} s")
    table.add_row(f"delete all {scale.miners} (finalizers, garbage collection)", f"{scale.operator_deleted_s:.1f} s")
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
