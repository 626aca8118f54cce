"""What the operator's integration tests share: CRDs installed once, `ocr-subnet operator run` as a real
process, typed access to custom resources and their Events, Prometheus that discovers the operator's
pods through the API server, and `FakeExporter` for exact metric values.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from ocr_subnet.local.procs import Child, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from subnet_operator import api

from tests.support.cluster import Cluster
from tests.support.poll import wait_until
from tests.support.ports import free_ports

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "charts" / "subnet" / "crds"
START_TIMEOUT_S = 60.0
SETTLE_S = 120.0  # a bound for the cluster and the operator to reach a state; polled, never slept
NEURON_IMAGE = "ocr-subnet/neuron:test"
TRITON_IMAGE = "ocr-subnet/triton:test"
LOOPBACK = "127.0.0.1"


def install_crds(cluster: Cluster) -> None:
    """Apply the chart's CRDs (idempotent) and wait until the API serves them."""
    cluster.kubectl("apply", "-f", str(CRDS))
    extensions = client.ApiextensionsV1Api(cluster.api)

    def established(name: str) -> bool:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    for kind in api.KINDS:
        name = f"{kind.plural}.{api.GROUP}"
        wait_until(lambda n=name: established(n), f"CRD {name} established", timeout_s=START_TIMEOUT_S)
    cluster.kubectl("api-resources", f"--api-group={api.GROUP}")  # refreshes kubectl's discovery cache


def miner_manifest(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "image": NEURON_IMAGE,
        "wallet": {"secretName": f"{name}-hotkey"},
        "chain": {"network": "test", "netuid": 1},
        "triton": {"image": TRITON_IMAGE},
        **spec,
    }
    return {"apiVersion": api.API_VERSION, "kind": "Miner", "metadata": {"name": name}, "spec": body}


def validator_manifest(name: str, **spec: Any) -> dict[str, Any]:
    body = {"image": NEURON_IMAGE, "wallet": {"secretName": f"{name}-hotkey"}, "chain": {"netuid": 1}, **spec}
    return {"apiVersion": api.API_VERSION, "kind": "Validator", "metadata": {"name": name}, "spec": body}


@dataclass
class Resources:
    """The custom resources, Deployments and Events of one namespace, read with the admin client."""

    cluster: Cluster
    namespace: str

    def apply(self, *manifests: Mapping[str, Any], check: bool = True, client_validation: bool = True) -> str:
        """`kubectl apply` as a user would; returns kubectl's stderr (the refusal, if any). Without client
        validation every check is the API server's (kubectl's own depends on when it fetched the schema)."""
        text = yaml.safe_dump_all([dict(m) for m in manifests])
        validate = [] if client_validation else ["--validate=false"]
        done = self.cluster.kubectl("apply", *validate, "-n", self.namespace, "-f", "-", stdin=text, check=check)
        return done.stderr

    def get(self, kind: api.Kind, name: str) -> dict[str, Any] | None:
        custom = client.CustomObjectsApi(self.cluster.api)
        try:
            return custom.get_namespaced_custom_object(api.GROUP, api.VERSION, self.namespace, kind.plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def condition(self, kind: api.Kind, name: str, type: str) -> dict[str, Any] | None:
        body = self.get(kind, name) or {}
        return next((c for c in body.get("status", {}).get("conditions", []) if c["type"] == type), None)

    def has_condition(self, kind: api.Kind, name: str, type: str, status: str) -> dict[str, Any] | None:
        found = self.condition(kind, name, type)
        return found if found and found["status"] == status else None

    def converged(self, kind: api.Kind, name: str) -> bool:
        """The latest generation is applied and Ready is True."""
        body = self.get(kind, name) or {}
        generation = body.get("metadata", {}).get("generation")
        return body.get("status", {}).get("observedGeneration") == generation and bool(
            self.has_condition(kind, name, api.READY, "True")
        )

    def deployment(self, name: str) -> client.V1Deployment | None:
        try:
            return client.AppsV1Api(self.cluster.api).read_namespaced_deployment(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def service(self, name: str) -> client.V1Service | None:
        try:
            return client.CoreV1Api(self.cluster.api).read_namespaced_service(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def pod_ips(self, resource: str, component: str) -> list[str]:
        """IPs of a resource's running pods of one component (loopback addresses under the fake kubelet)."""
        selector = f"{api.LABEL_INSTANCE}={resource},{api.LABEL_COMPONENT}={component}"
        pods = client.CoreV1Api(self.cluster.api).list_namespaced_pod(self.namespace, label_selector=selector)
        return [p.status.pod_ip for p in pods.items if p.status.pod_ip and p.metadata.deletion_timestamp is None]

    def events(self, name: str) -> list[client.CoreV1Event]:
        return (
            client.CoreV1Api(self.cluster.api)
            .list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
            .items
        )

    def event(self, name: str, reason: str) -> client.CoreV1Event | None:
        return next((e for e in self.events(name) if e.reason == reason), None)

    def delete_all(self) -> None:
        """Delete every Validator and Miner and wait until the operator has let them go."""
        for kind in api.KINDS:
            self.cluster.kubectl("delete", kind.plural, "--all", "-n", self.namespace, "--wait=false")
        custom = client.CustomObjectsApi(self.cluster.api)

        def gone(plural: str) -> bool:
            return not custom.list_namespaced_custom_object(api.GROUP, api.VERSION, self.namespace, plural)["items"]

        for kind in api.KINDS:
            wait_until(
                lambda k=kind: gone(k.plural), f"every {kind.kind} in {self.namespace} deleted", timeout_s=SETTLE_S
            )


@dataclass
class OperatorProcess:
    """`ocr-subnet operator run` as the chart runs it, with its liveness and /metrics on loopback."""

    kubeconfig: Path
    log_path: Path
    namespaces: Sequence[str] = ()
    prometheus_url: str = ""
    interval_s: float = 1.0
    pod_id: str = "operator-0"  # kopf's identity among peers; a restarted pod keeps its name
    priority: int | None = None
    child: Child | None = None
    liveness_port: int = 0
    metrics_port: int = 0
    extra_args: Sequence[str] = ()  # further `operator run` options

    def start(self) -> OperatorProcess:
        self.liveness_port, self.metrics_port = free_ports(2)
        scope = [arg for ns in self.namespaces for arg in ("--namespace", ns)] or ["--all-namespaces"]
        argv = [
            *ocr_subnet_command(),
            *("operator", "run", *scope, "--kubeconfig", str(self.kubeconfig)),
            *("--prometheus-url", self.prometheus_url),
            *("--liveness-endpoint", f"http://{LOOPBACK}:{self.liveness_port}/healthz"),
            *("--metrics-host", LOOPBACK, "--metrics-port", str(self.metrics_port)),
            *("--health-interval", str(self.interval_s), "--scale-interval", str(self.interval_s)),
            *(("--priority", str(self.priority)) if self.priority is not None else ()),
            *self.extra_args,
        ]
        self.child = spawn("operator", argv, self.log_path, env={**os.environ, "POD_ID": self.pod_id})
        wait_healthy(f"http://{LOOPBACK}:{self.liveness_port}/healthz", START_TIMEOUT_S, self.child)
        return self

    @property
    def alive(self) -> bool:
        return self.child is not None and self.child.alive

    def metrics(self) -> str:
        return httpx.get(f"http://{LOOPBACK}:{self.metrics_port}/metrics", timeout=10, trust_env=False).text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye to peers, whatever was in flight is cut off."""
        assert self.child is not None
        self.child.process.kill()
        self.child.process.wait(timeout=30)

    def stop(self) -> int:
        assert self.child is not None
        return stop_all([self.child], grace_s=30.0)["operator"]


@contextlib.contextmanager
def running_operator(
    cluster: Cluster, namespace: str, log_path: Path, kubeconfig: Path | None = None, **options: Any
) -> Iterator[OperatorProcess]:
    """An operator for the block; its resources are deleted while it still runs (their finalizers need it)."""
    operator = OperatorProcess(kubeconfig or cluster.kubeconfig, log_path, **options).start()
    try:
        yield operator
        Resources(cluster, namespace).delete_all()
    finally:
        if operator.alive:
            operator.stop()


class _LoopbackServer:
    """A threaded HTTP server on loopback answering every GET with `render()` -> (content type, body)."""

    def __init__(self, render: Callable[[], tuple[str, bytes]]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                content_type, body = render()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class PodDiscovery:
    """Prometheus's Kubernetes pod discovery, served over http_sd (Debian's Prometheus is built without
    kubernetes_sd): the namespace's running pods that carry `prometheus.io/scrape`, read from the API
    server on every refresh, as targets at their pod IP and annotated port, labelled `namespace` and `pod`."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self._core = client.CoreV1Api(cluster.api)
        self._namespace = namespace
        self._server = _LoopbackServer(lambda: ("application/json", json.dumps(self.targets()).encode()))

    def targets(self) -> list[dict[str, Any]]:
        groups = []
        for pod in self._core.list_namespaced_pod(self._namespace).items:
            notes = pod.metadata.annotations or {}
            if notes.get("prometheus.io/scrape") != "true" or not pod.status.pod_ip:
                continue
            labels = {"namespace": self._namespace, "pod": pod.metadata.name}
            labels["__metrics_path__"] = notes.get("prometheus.io/path", "/metrics")
            groups.append({"targets": [f"{pod.status.pod_ip}:{notes['prometheus.io/port']}"], "labels": labels})
        return groups

    def config(self, interval_s: float = 1.0) -> dict[str, Any]:
        interval = f"{int(interval_s * 1000)}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
            "scrape_configs": [
                {
                    "job_name": "pods",
                    "http_sd_configs": [{"url": f"http://{self._server.address}/", "refresh_interval": interval}],
                }
            ],
        }

    def close(self) -> None:
        self._server.close()


def static_config(targets: Mapping[str, Mapping[str, str]], interval_s: float = 1.0) -> dict[str, Any]:
    """Prometheus scraping `host:port` targets, each with the labels given (e.g. a pod's namespace and name)."""
    interval = f"{int(interval_s * 1000)}ms"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "scrape_configs": [
            {"job_name": f"target-{i}", "static_configs": [{"targets": [target], "labels": dict(labels)}]}
            for i, (target, labels) in enumerate(targets.items())
        ],
    }


@dataclass
class _Counter:
    rate: float
    base: float = 0.0
    since: float = field(default_factory=time.monotonic)

    def value(self, now: float) -> float:
        return self.base + self.rate * (now - self.since)


class FakeExporter:
    """A fake /metrics endpoint serving exactly the series a test sets: gauges, and counters that grow at
    a set rate per second (so Prometheus's rate() of them is that rate). Named a fake: nothing real behind it.
    """

    def __init__(self) -> None:
        self._gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._counters: dict[tuple[str, tuple[tuple[str, str], ...]], _Counter] = {}
        self._lock = threading.Lock()
        self._server = _LoopbackServer(lambda: ("text/plain; version=0.0.4", self.exposition().encode()))

    @property
    def target(self) -> str:
        return self._server.address

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._gauges[(name, tuple(sorted(labels.items())))] = value

    def set_rate(self, name: str, per_s: float, **labels: str) -> None:
        """The counter keeps its value and grows at `per_s` from now on."""
        key = (name, tuple(sorted(labels.items())))
        now = time.monotonic()
        with self._lock:
            old = self._counters.get(key)
            self._counters[key] = _Counter(per_s, old.value(now) if old else 0.0, now)

    def clear(self) -> None:
        with self._lock:
            self._gauges.clear()
            self._counters.clear()

    def exposition(self) -> str:
        now = time.monotonic()
        with self._lock:
            values = [*self._gauges.items(), *((k, c.value(now)) for k, c in self._counters.items())]
        lines = []
        for (name, labels), value in values:
            rendered = ",".join(f'{key}="{val}"' for key, val in labels)
            lines.append(f"{name}{{{rendered}}} {value}")
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self._server.close()
