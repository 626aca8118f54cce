"""A fake kubelet, the way kwok does it: Node objects with no machine behind them, and pods that only look alive.

The control plane under test has no container runtime. This fake registers Ready nodes (with allocatable
cpu, memory, pods and optionally `nvidia.com/gpu`, so the real scheduler places pods), then watches pods
bound to those nodes and writes the status a kubelet would: Running, Ready, a loopback podIP, ready
container statuses. Deployments therefore report available replicas. Nothing runs, no probe is executed
and no pod finishes by itself (a Job stays active) unless a test runs its command and reports the exit
with `terminated_status`, which the fake then leaves alone. It also completes graceful deletions (what a
kubelet does once containers stop), so namespaces and owners can be deleted. It runs in a thread and
stops by closing its watch connection. Pod IPs are loopback addresses (127.1.x.y) so a test can serve on one; the
Endpoints controller refuses loopback IPs, so Services get no Endpoints here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

log = logging.getLogger(__name__)

STRATEGIC = "application/strategic-merge-patch+json"
FIRST_POD_IP = ipaddress.IPv4Address("127.1.0.1")
TERMINAL_PHASES = ("Succeeded", "Failed")
WATCH_TIMEOUT_S = 300  # the server ends a watch after this; the loop resumes from the last resourceVersion

Pod = dict[str, Any]


@dataclass(frozen=True)
class FakeNode:
    name: str
    cpu: str = "32"
    memory: str = "128Gi"
    pods: int = 110
    gpus: int = 0


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_manifest(node: FakeNode) -> dict[str, Any]:
    """A Ready node with a loopback address; `nvidia.com/gpu` capacity and label when it has GPUs."""
    resources = {"cpu": node.cpu, "memory": node.memory, "pods": str(node.pods)}
    labels = {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "fake-kubelet",
    }
    if node.gpus:
        resources["nvidia.com/gpu"] = str(node.gpus)
        labels["nvidia.com/gpu.present"] = "true"
    now = _now()
    return {
        "metadata": {"name": node.name, "labels": labels},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": node.name}],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "FakeKubeletReady",
                    "message": "fake kubelet (no containers run)",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "nodeInfo": {
                **dict.fromkeys(("bootID", "kernelVersion", "machineID", "osImage", "systemUUID"), "fake"),
                **dict.fromkeys(("kubeletVersion", "kubeProxyVersion", "containerRuntimeVersion"), "fake"),
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def running_status(pod: Pod, pod_ip: str) -> dict[str, Any]:
    """The status a kubelet reports once every container started and passed readiness."""
    now = _now()
    spec = pod["spec"]
    started = {"startedAt": now}
    return {
        "status": {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": now,
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "initContainerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": f"fake://{c['image']}",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", **started, "finishedAt": now}},
                }
                for c in spec.get("initContainers", [])
            ],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": f"fake://{c['image']}",
                    "containerID": f"fake://{pod['metadata']['uid']}/{c['name']}",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": started},
                }
                for c in spec["containers"]
            ],
        }
    }


def terminated_status(pod: Pod, exit_code: int) -> dict[str, Any]:
    """The status a kubelet reports once a pod's (restartPolicy Never) containers exited with `exit_code`."""
    now = _now()
    terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error", "finishedAt": now}
    return {
        "status": {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "conditions": [
                {"type": kind, "status": "False", "lastTransitionTime": now} for kind in ("ContainersReady", "Ready")
            ],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": f"fake://{c['image']}",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"terminated": terminated},
                }
                for c in pod["spec"]["containers"]
            ],
        }
    }


def _is_ready(pod: Pod) -> bool:
    status = pod.get("status", {})
    conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
    return status.get("phase") == "Running" and conditions.get("Ready") == "True"


class FakeKubelet:
    """Registers fake nodes and keeps pods bound to them Running and Ready until they are deleted."""

    def __init__(self, api: ApiClient, nodes: Sequence[FakeNode]) -> None:
        self._core = client.CoreV1Api(api)
        self._nodes = {node.name: node for node in nodes}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-kubelet", daemon=True)
        self._response: Any = None
        self._next_ip = 0

    def start(self) -> None:
        """Register (or refresh) the nodes, then start watching pods."""
        for node in self._nodes.values():
            manifest = node_manifest(node)
            try:
                self._core.create_node(manifest)
            except ApiException as exc:
                if exc.status != 409:
                    raise
            self._core.patch_node_status(node.name, {"status": manifest["status"]}, _content_type=STRATEGIC)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Close the watch connection so the thread wakes up, and wait for it."""
        self._stopping.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._list_and_watch()
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("fake kubelet: watch failed; listing again")
                self._stopping.wait(1.0)

    def _list_and_watch(self) -> None:
        """List bound pods, bring each up to date, then follow changes until the watch ends or expires."""
        listed = self._core.list_pod_for_all_namespaces(field_selector="spec.nodeName!=", _preload_content=False)
        listing = json.loads(listed.data)
        for pod in listing["items"]:
            self._sync(pod)
        version = listing["metadata"]["resourceVersion"]
        while not self._stopping.is_set():
            for event in self._watch(version):
                if event["type"] == "ERROR":
                    return  # usually 410 Gone: the resourceVersion is too old, so list again
                version = event["object"]["metadata"]["resourceVersion"]
                if event["type"] in ("ADDED", "MODIFIED"):
                    self._sync(event["object"])

    def _watch(self, version: str) -> Iterator[dict[str, Any]]:
        self._response = self._core.list_pod_for_all_namespaces(
            field_selector="spec.nodeName!=",
            watch=True,
            allow_watch_bookmarks=True,
            resource_version=version,
            timeout_seconds=WATCH_TIMEOUT_S,
            _preload_content=False,
        )
        if self._stopping.is_set():  # stop() may have looked for a response before this one existed
            self._response.shutdown()
        try:
            for line in self._response:
                if line.strip():
                    yield json.loads(line)
        finally:
            self._response.release_conn()
            self._response = None

    def _sync(self, pod: Pod) -> None:
        meta = pod["metadata"]
        if pod["spec"].get("nodeName") not in self._nodes:
            return
        try:
            if meta.get("deletionTimestamp"):
                self._core.delete_namespaced_pod(meta["name"], meta["namespace"], grace_period_seconds=0)
            elif pod.get("status", {}).get("phase") in TERMINAL_PHASES:
                return  # finished (a test reported it, see terminated_status): a kubelet never revives it
            elif not _is_ready(pod):
                pod_ip = pod.get("status", {}).get("podIP") or self._allocate_ip()
                self._core.patch_namespaced_pod_status(
                    meta["name"], meta["namespace"], running_status(pod, pod_ip), _content_type=STRATEGIC
                )
        except ApiException as exc:
            if exc.status != 404:  # the pod went away meanwhile
                raise

    def _allocate_ip(self) -> str:
        self._next_ip += 1
        return str(FIRST_POD_IP + self._next_ip - 1)
