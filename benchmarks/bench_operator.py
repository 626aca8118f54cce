"""The operator on a real API server: apply-to-Deployment latency, and a full subnet of Miners converging.

Runs the local 1.20 control plane of the integration tests (or any cluster given by --kubeconfig) and
`ocr-subnet operator run` as a process, as the chart runs it.

- Latency: `kubectl apply` of one Miner until its miner Deployment exists (seen by a watch), p50/p95.
  Baseline, interleaved with it: `kubectl apply` of that same Deployment (built by the same builder),
  until the watch sees it. The difference is what the operator adds.
- Scale: one `kubectl apply` of N Miners (a full subnet is 256) until every one is reconciled, and until
  every one is Ready (its miner and Triton Deployments available), with the operator's peak RSS and CPU.
  Baseline: one `kubectl apply` of the equivalent Deployments and Services, until all are available.
- Writes: N Miners idle at steady state (Ready, Prometheus answering that their Triton servers get no
  requests), the API requests over a window, by verb, counted by the API server itself
  (`apiserver_request_total`, only the verbs and resources the operator's RBAC rules allow). Baseline, in
  the same run: the same window with the old policy replayed next to it, one status PATCH per Miner per
  scaling tick (it appended a recommendation to the status every tick) on as many Miners in a namespace
  no operator watches.
- Drift: a Miner's Triton Deployment deleted until the operator applied it again, p50/p95. Baseline,
  interleaved with it: a pod of the miner's ReplicaSet deleted until the ReplicaSet controller replaced it.

    python benchmarks/bench_operator.py --samples 30 --miners 256 [--part latency|scale|writes|drift ...] [--json]
"""

from __future__ import annotations

import collections
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
from ocr_subnet import metric_names as names
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from subnet_operator import api, rbac, scaling
from subnet_operator.builders import miner as miner_builder
from subnet_operator.builders.common import Owner
from subnet_operator.crds import miner_spec
from subnet_operator.schema import apply_defaults

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the benchmark runs the integration tests' control plane and operator harness

from tests.integration.operator_harness import FakeExporter, OperatorProcess, install_crds, miner_manifest  # noqa: E402
from tests.support.cluster import Cluster, connect, control_plane_binaries, existing_cluster, local_cluster  # noqa: E402
from tests.support.fake_kubelet import FakeNode  # noqa: E402
from tests.support.poll import wait_until  # noqa: E402
from tests.support.prometheus import start_prometheus  # noqa: E402

# Room for a full subnet's pods: 256 miners and their Triton servers, with the CRDs' default requests.
BENCH_NODES = (FakeNode("bench-node-0", cpu="4000", memory="16Ti", pods=2000), FakeNode("bench-gpu-0", gpus=8))
HEALTH_INTERVAL_S = 5.0
TIMEOUT_S = 1800.0
SCALE_INTERVAL_S = 15.0  # the chart's default, for the writes at steady state
# apiserver_request_total's verbs, as RBAC names them. Only requests the operator's own RBAC rules allow are
# counted: the API server does not say who asked, and other components (the endpoint controller patching its
# Events about the fake kubelet's loopback pod IPs, for one) write on other resources or with other verbs.
RBAC_VERBS = {"GET": "get", "LIST": "list", "WATCH": "watch", "POST": "create", "PUT": "update"}
RBAC_VERBS |= {"PATCH": "patch", "APPLY": "patch", "DELETE": "delete"}
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE"})
PARTS = ("latency", "scale", "writes", "drift")


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


class ObjectWatch:
    """When each object of a namespace (Deployments, pods: any namespaced list call) was first seen, by name and
    by uid, from a watch (no polling delay)."""

    def __init__(self, list_call: Any, namespace: str) -> None:
        self.seen: dict[str, float] = {}
        self.uids: dict[str, tuple[str, float]] = {}
        self._watch = watch.Watch()
        self._list = list_call
        self._namespace = namespace
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # stop() cuts the stream short; nothing is read after that
            for event in self._watch.stream(self._list, self._namespace):
                meta, now = event["object"].metadata, time.monotonic()
                self.seen.setdefault(meta.name, now)
                self.uids.setdefault(meta.uid, (meta.name, now))

    def _until(self, found: Any, what: str) -> float:
        deadline = time.monotonic() + TIMEOUT_S
        while (at := found()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} never appeared")
            time.sleep(0.002)
        return at

    def wait(self, name: str) -> float:
        return self._until(lambda: self.seen.get(name), name)

    def wait_new(self, matches: Any, known: set[str]) -> float:
        """When an object whose name `matches` and whose uid is not `known` first appeared."""
        return self._until(
            lambda: next(
                (at for uid, (name, at) in list(self.uids.items()) if uid not in known and matches(name)), None
            ),
            "a new object",
        )

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
    deployments = ObjectWatch(client.AppsV1Api(cluster.api).list_namespaced_deployment, namespace)
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


def measure_drift(cluster: Cluster, samples: int, tmp: Path) -> tuple[Latency, Latency]:
    """Delete a Miner's Triton Deployment until the operator has applied it again (a new uid); baseline, in
    turn with it: delete a pod of the miner's ReplicaSet until Kubernetes' ReplicaSet controller made its
    replacement: the same kind of repair by the cluster's own controllers."""
    namespace = new_namespace(cluster, "bench-drift")
    apps, core = client.AppsV1Api(cluster.api), client.CoreV1Api(cluster.api)
    deployments = ObjectWatch(apps.list_namespaced_deployment, namespace)
    pods = ObjectWatch(core.list_namespaced_pod, namespace)
    operator = OperatorProcess(cluster.kubeconfig, tmp / "drift-operator.log", [namespace]).start()
    triton = api.object_name("d0", api.TRITON_COMPONENT)
    miner_pods = f"{api.object_name('d0', api.MINER_COMPONENT)}-"
    repaired: list[float] = []
    replaced: list[float] = []
    try:
        kubectl_apply(cluster, namespace, [bench_miner("d0")])
        wait_until(lambda: miners_state(cluster, namespace)[1] == 1, "the Miner Ready", timeout_s=TIMEOUT_S)
        for i in range(samples + 1):  # the first pair warms up
            known = set(deployments.uids)
            started = time.monotonic()
            apps.delete_namespaced_deployment(triton, namespace)
            took = deployments.wait_new(lambda name: name == triton, known) - started
            [pod] = [p for p in core.list_namespaced_pod(namespace).items if p.metadata.name.startswith(miner_pods)]
            known = set(pods.uids)
            started = time.monotonic()
            core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
            base_took = pods.wait_new(lambda name: name.startswith(miner_pods), known) - started
            if i:
                repaired.append(took)
                replaced.append(base_took)
            wait_until(lambda: miners_state(cluster, namespace)[1] == 1, "the Miner Ready again", timeout_s=TIMEOUT_S)
        delete_miners(cluster, namespace)
    finally:
        operator.stop()
        deployments.stop()
        pods.stop()
    return latency("deleted Triton Deployment -> applied again (operator)", repaired), latency(
        "deleted pod -> replacement (ReplicaSet controller, baseline)", replaced
    )


@dataclass(frozen=True)
class Writes:
    miners: int
    window_s: float
    operator: dict[str, float]  # "VERB resource[/subresource]" -> requests in the window
    baseline: dict[str, float]

    @staticmethod
    def per_s(requests: dict[str, float], window_s: float) -> float:
        return sum(n for key, n in requests.items() if key.split()[0] in WRITE_VERBS) / window_s

    @property
    def operator_writes_per_s(self) -> float:
        return self.per_s(self.operator, self.window_s)

    @property
    def baseline_writes_per_s(self) -> float:
        return self.per_s(self.baseline, self.window_s)


def operator_may(resource: str, verb: str) -> bool:
    """Whether the operator's RBAC rules (what it calls, and nothing else) allow `verb` on `resource`."""
    wanted = RBAC_VERBS.get(verb)
    return any(resource in rule["resources"] and wanted in rule["verbs"] for rule in rbac.rules(clusterwide=False))


def api_requests(cluster: Cluster) -> collections.Counter[str]:
    """The API server's own count of the requests the operator may make, by verb and resource."""
    counts: collections.Counter[str] = collections.Counter()
    text = cluster.kubectl("get", "--raw", "/metrics", timeout_s=None).stdout
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != "apiserver_request_total":
                continue
            subresource = sample.labels.get("subresource")
            resource = sample.labels.get("resource", "") + (f"/{subresource}" if subresource else "")
            if operator_may(resource, sample.labels["verb"]):
                counts[f"{sample.labels['verb']} {resource}"] += sample.value
    return counts


def requests_during(cluster: Cluster, window_s: float, action: Any = None) -> dict[str, float]:
    before = api_requests(cluster)
    if action is None:
        time.sleep(window_s)
    else:
        action(window_s)
    after = api_requests(cluster)
    return {key: after[key] - before[key] for key in sorted(after) if after[key] > before[key]}


def idle_triton_prometheus(namespace: str, miners: int, scratch: Path) -> tuple[FakeExporter, Any]:
    """Prometheus scraping a fake exporter that reports every Miner's Triton pod as up and idle (no requests)."""
    exporter = FakeExporter()
    for i in range(miners):
        pod = {"namespace": namespace, "pod": f"m{i}-triton-6b7c9d8f5-x2x4z"}
        for name in (names.TRITON_REQUEST_SUCCESS, names.TRITON_QUEUE_DURATION_US):
            exporter.set_rate(name, 0.0, **pod)
        exporter.set_gauge(names.TRITON_PENDING_REQUEST_COUNT, 0.0, **pod)
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "scrape_configs": [
            {"job_name": "triton", "honor_labels": True, "static_configs": [{"targets": [exporter.target]}]}
        ],
    }
    return exporter, start_prometheus(scratch / "writes-prometheus", config)


def replay_old_policy(cluster: Cluster, namespace: str, miners: int) -> Any:
    """What the scaling timer used to do at steady state: append a recommendation to each Miner's status every
    tick, one status PATCH per Miner per tick, spread over the tick like kopf's timers."""
    custom = client.CustomObjectsApi(cluster.api)
    history: dict[str, list[dict[str, Any]]] = {f"m{i}": [] for i in range(miners)}

    def run(window_s: float) -> None:
        ends = time.monotonic() + window_s
        while time.monotonic() < ends:
            tick = time.monotonic()
            for n, (name, recommendations) in enumerate(history.items()):
                time.sleep(max(0.0, tick + n * SCALE_INTERVAL_S / miners - time.monotonic()))
                if time.monotonic() >= ends:
                    return
                recommendations.append({"at": round(time.time(), 3), "replicas": 1})
                del recommendations[: -scaling.MAX_HISTORY]
                scaled = {"reason": "Idle", "message": "no requests in the window", "recommendations": recommendations}
                custom.patch_namespaced_custom_object_status(
                    api.GROUP, api.VERSION, namespace, api.MINER.plural, name, {"status": {"scaling": scaled}}
                )

    return run


def steady(cluster: Cluster, namespace: str, miners: int) -> bool:
    items = client.CustomObjectsApi(cluster.api).list_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.MINER.plural
    )["items"]
    idle = [i for i in items if i.get("status", {}).get("scaling", {}).get("reason") == "Idle"]
    return len(idle) == miners and miners_state(cluster, namespace)[1] == miners


def measure_writes(cluster: Cluster, miners: int, window_s: float, tmp: Path) -> Writes:
    namespace = new_namespace(cluster, "bench-writes")
    exporter, prometheus = idle_triton_prometheus(namespace, miners, tmp)
    operator = OperatorProcess(
        cluster.kubeconfig,
        tmp / "writes-operator.log",
        [namespace],
        prometheus_url=prometheus.url,
        interval_s=SCALE_INTERVAL_S,
    ).start()
    try:
        kubectl_apply(cluster, namespace, [bench_miner(f"m{i}") for i in range(miners)])
        wait_until(
            lambda: steady(cluster, namespace, miners),
            f"{miners} Miners Ready and idle",
            timeout_s=TIMEOUT_S,
            interval_s=2.0,
        )
        time.sleep(2 * SCALE_INTERVAL_S)  # the last transitions' writes land before the window opens
        quiet = requests_during(cluster, window_s)
        replayed = new_namespace(cluster, "bench-replay")
        kubectl_apply(cluster, replayed, [bench_miner(f"m{i}") for i in range(miners)])
        old = requests_during(cluster, window_s, replay_old_policy(cluster, replayed, miners))
        cluster.kubectl("delete", "miners", "--all", "-n", replayed, "--wait=false")
        delete_miners(cluster, namespace)
    finally:
        operator.stop()
        prometheus.stop()
        exporter.close()
    return Writes(miners, window_s, quiet, old)


@contextlib.contextmanager
def cluster_for(kubeconfig: Path | None, scratch: Path) -> Iterator[Cluster]:
    if kubeconfig is not None:
        yield existing_cluster(kubeconfig, scratch)
        return
    with local_cluster(control_plane_binaries(), BENCH_NODES) as cluster:
        yield cluster


def latency_table(title: str, rows: Sequence[Latency]) -> Table:
    table = Table(title=title)
    for column in ("path", "samples", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in rows:
        table.add_row(row.what, str(row.samples), f"{row.p50_ms:.0f}", f"{row.p95_ms:.0f}", f"{row.max_ms:.0f}")
    return table


def print_latency(console: Console, version: str, operator: Latency, direct: Latency) -> None:
    console.print(latency_table(f"apply -> Deployment on Kubernetes {version}", (operator, direct)))
    console.print(f"operator adds {operator.p50_ms - direct.p50_ms:.0f} ms at p50")


def print_drift(console: Console, repaired: Latency, replaced: Latency) -> None:
    console.print(latency_table("a deleted child repaired", (repaired, replaced)))
    console.print(f"repair p50 {repaired.p50_ms / replaced.p50_ms:.2f}x the ReplicaSet controller's")


def print_scale(console: Console, scale: Scale) -> None:
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


def print_writes(console: Console, writes: Writes) -> None:
    title = f"API requests the operator may make, {writes.miners} idle Miners, {writes.window_s:g} s window"
    table = Table(title=title)
    for column in ("verb resource", "operator", "baseline: old policy replayed"):
        table.add_column(column, justify="left" if column == "verb resource" else "right")
    for key in sorted({*writes.operator, *writes.baseline}):
        table.add_row(key, f"{writes.operator.get(key, 0):.0f}", f"{writes.baseline.get(key, 0):.0f}")
    table.add_row("writes per second", f"{writes.operator_writes_per_s:.2f}", f"{writes.baseline_writes_per_s:.2f}")
    console.print(table)
    ratio = writes.operator_writes_per_s / writes.baseline_writes_per_s
    console.print(f"writes/s at steady state: {writes.operator_writes_per_s:.2f} ({ratio:.3f}x the old policy)")


def main(
    samples: int = typer.Option(30, min=3, max=500, help="timed applies per latency series"),
    miners: int = typer.Option(256, min=1, max=2000, help="Miners applied at once (a full subnet: 256)"),
    window: float = typer.Option(60.0, min=15.0, help="seconds of steady state the writes are counted over"),
    part: list[str] = typer.Option(list(PARTS), help=f"what to measure (repeatable): {', '.join(PARTS)}"),
    kubeconfig: Path | None = typer.Option(None, help="an existing cluster instead of the local control plane"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
) -> None:
    """Time the operator against plain kubectl applies of the same objects, and count its API writes."""
    unknown = set(part) - set(PARTS)
    if unknown:
        raise typer.BadParameter(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    report: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-operator-") as scratch,
        cluster_for(kubeconfig, Path(scratch)) as cluster,
    ):
        install_crds(cluster)
        if "latency" in part:
            report["latency"] = measure_latency(cluster, samples, Path(scratch))
        if "scale" in part:
            report["scale"] = measure_scale(cluster, miners, Path(scratch))
        if "writes" in part:
            report["writes"] = measure_writes(cluster, miners, window, Path(scratch))
        if "drift" in part:
            report["drift"] = measure_drift(cluster, samples, Path(scratch))
        version = client.VersionApi(connect(cluster.kubeconfig)).get_code().git_version
    if as_json:
        out: dict[str, Any] = {"kubernetes": version}
        if "latency" in report:
            operator_latency, direct_latency = report["latency"]
            out["latency"] = [asdict(operator_latency), asdict(direct_latency)]
            out["operator_added_p50_ms"] = operator_latency.p50_ms - direct_latency.p50_ms
        if "scale" in report:
            out["scale"] = asdict(report["scale"])
            out["ready_over_baseline"] = report["scale"].operator_ready_s / report["scale"].baseline_available_s
        if "drift" in report:
            repaired, replaced = report["drift"]
            out["drift"] = [asdict(repaired), asdict(replaced)]
            out["drift_over_baseline_p50"] = repaired.p50_ms / replaced.p50_ms
        if "writes" in report:
            writes = report["writes"]
            out["writes"] = {
                **asdict(writes),
                "operator_writes_per_s": writes.operator_writes_per_s,
                "baseline_writes_per_s": writes.baseline_writes_per_s,
                "writes_over_baseline": writes.operator_writes_per_s / writes.baseline_writes_per_s,
            }
        typer.echo(json.dumps(out))
        return
    console = Console()
    if "latency" in report:
        print_latency(console, version, *report["latency"])
    if "scale" in report:
        print_scale(console, report["scale"])
    if "writes" in report:
        print_writes(console, report["writes"])
    if "drift" in report:
        print_drift(console, *report["drift"])


if __name__ == "__main__":
    typer.run(main)
