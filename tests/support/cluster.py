"""A real Kubernetes control plane on loopback for the integration tests, or an existing cluster (kind).

No Docker here, so no kind: etcd, kube-apiserver, kube-controller-manager and kube-scheduler 1.20 (built
once by scripts/build-control-plane.sh, cached under ~/.cache) run as child processes on 127.0.0.1,
with their state on /dev/shm, and a fake kubelet stands in for nodes. Tests see the same `Cluster`
whether it was started here or given by a kubeconfig, so they run unchanged on kind.

`python -m tests.support.cluster` starts one for poking at with kubectl and prints its start time and RSS.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from kubernetes import client, config
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException
from ocr_subnet.local.procs import Child, StartupFailed, spawn, stop_all, wait_healthy

from tests.support.fake_kubelet import FakeKubelet, FakeNode
from tests.support.pki import write_pki
from tests.support.ports import free_ports

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-control-plane.sh"
READY_TIMEOUT_S = 90.0
WORKDIR_PREFIX = "ocr-subnet-k8s-"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_NODES = (FakeNode("fake-node-0"), FakeNode("fake-gpu-0", gpus=8))
# Enough controllers for Deployments, Services, PVCs, namespaces, RBAC aggregation and owner-reference GC.
# No nodelifecycle: the fake kubelet sends no heartbeats, and nothing should evict its pods.
CONTROLLERS = (
    "clusterrole-aggregation,daemonset,deployment,disruption,endpoint,endpointslice,garbagecollector,job,"
    "namespace,persistentvolume-binder,podgc,pv-protection,pvc-protection,replicaset,root-ca-cert-publisher,"
    "serviceaccount,serviceaccount-token,statefulset"
)


class KubectlError(RuntimeError):
    """kubectl exited non-zero; the message carries the command and its stderr."""


def connect(kubeconfig: Path) -> ApiClient:
    """An API client for the current context of `kubeconfig`."""
    return config.new_client_from_config(config_file=str(kubeconfig))


@dataclass
class Cluster:
    """What the tests get: a kubeconfig, an admin client and a few helpers, whoever runs the cluster."""

    kubeconfig: Path
    api: ApiClient
    scratch: Path
    local: LocalControlPlane | None = None

    @property
    def server(self) -> str:
        return self.api.configuration.host

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout_s: float | None = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl (1.32 here) against this cluster; its discovery cache stays out of $HOME.
        `timeout_s=None` for calls whose size, not a hang, decides how long they take."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise KubectlError("kubectl is not installed")
        argv = [kubectl, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.scratch / 'kubectl-cache'}", *args]
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False)
        if check and done.returncode != 0:
            raise KubectlError(f"{' '.join(argv[1:])} exited {done.returncode}:\n{done.stderr}")
        return done

    def service_account_token(self, namespace: str, name: str, expiration_s: int = 3600) -> str:
        """A bound token for ServiceAccount `name` (created if missing) from the TokenRequest API.

        TokenRequest works on 1.20 and on current Kubernetes alike, where legacy token Secrets are gone.
        """
        core = client.CoreV1Api(self.api)
        try:
            core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
        except ApiException as exc:
            if exc.status != 409:
                raise
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_s)
        )
        return core.create_namespaced_service_account_token(name, namespace, request).status.token

    def token_kubeconfig(self, token: str, path: Path) -> Path:
        """A kubeconfig for the same server that authenticates with `token` only (no admin client cert)."""
        cfg = self.api.configuration
        cluster: dict[str, object] = {"server": self.server}
        if cfg.ssl_ca_cert:
            cluster["certificate-authority-data"] = base64.b64encode(Path(cfg.ssl_ca_cert).read_bytes()).decode()
        else:
            cluster["insecure-skip-tls-verify"] = not cfg.verify_ssl
        _write_kubeconfig(path, cluster, {"token": token})
        return path


def _write_kubeconfig(path: Path, cluster: dict[str, object], user: dict[str, object]) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": cluster}],
                "users": [{"name": "test", "user": user}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
                "current-context": "test",
            }
        )
    )
    path.chmod(0o600)


def existing_kubeconfig() -> Path | None:
    """The kubeconfig of a cluster the environment asks the tests to use instead of starting one.

    `OCR_SUBNET_KUBECONFIG=path`, or `OCR_SUBNET_USE_EXISTING_CLUSTER=1` to take $KUBECONFIG (or
    ~/.kube/config). A plain $KUBECONFIG alone never counts: tests must not wander into someone's cluster.
    """
    explicit = os.environ.get("OCR_SUBNET_KUBECONFIG")
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("OCR_SUBNET_USE_EXISTING_CLUSTER") == "1":
        first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        return Path(first or "~/.kube/config").expanduser()
    return None


def existing_cluster(kubeconfig: Path, scratch: Path) -> Cluster:
    """Wrap a running cluster (kind, a CI runner's) after checking that it answers."""
    if not kubeconfig.is_file():
        raise FileNotFoundError(f"kubeconfig {kubeconfig} (from OCR_SUBNET_KUBECONFIG/KUBECONFIG) does not exist")
    api = connect(kubeconfig)
    client.VersionApi(api).get_code()
    return Cluster(kubeconfig=kubeconfig, api=api, scratch=scratch)


def control_plane_binaries() -> Path:
    """The folder holding kube-apiserver & co., building them first if the cache is incomplete (~9 min cold).

    The build script owns the cache location and prints it; when the cache is complete it returns at once.
    """
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed (exit {done.returncode}); its stderr above says why")
    return Path(done.stdout.strip().splitlines()[-1]) / "bin"


def _wait_for(child: Child, probe: Callable[[], bool], what: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll `probe` until true; fail with `child`'s log tail if it exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive:
            raise StartupFailed(
                f"{child.name} exited with {child.process.returncode} before {what}; "
                f"log {child.log_path}:\n{child.log_tail(30)}"
            )
        if probe():
            return
        time.sleep(0.2)
    raise StartupFailed(f"{child.name}: no {what} within {timeout_s:g}s; log {child.log_path}:\n{child.log_tail(30)}")


def _reap_abandoned(parent: Path) -> None:
    """Remove state left by runs that were killed outright (etcd's preallocated WAL is ~120 MB of RAM)."""
    for folder in parent.glob(f"{WORKDIR_PREFIX}*"):
        try:
            os.kill(int((folder / "owner.pid").read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue  # being created right now, or not ours to judge


def _argv(binary: Path | str, flags: dict[str, object]) -> list[str]:
    return [str(binary), *(f"--{name}={value}" for name, value in flags.items())]


class LocalControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + a fake kubelet, all on loopback."""

    def __init__(self, bin_dir: Path, nodes: Sequence[FakeNode] = DEFAULT_NODES) -> None:
        self.bin_dir = bin_dir
        self.nodes = nodes
        self.children: list[Child] = []
        self.fake_kubelet: FakeKubelet | None = None
        self.startup_s = 0.0
        parent = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
        _reap_abandoned(parent)
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=parent))
        (self.workdir / "owner.pid").write_text(str(os.getpid()))

    def start(self) -> Cluster:
        """Start every component in dependency order; return the cluster once it can schedule pods."""
        began = time.monotonic()
        try:
            cluster = self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - began
        return cluster

    def _start(self) -> Cluster:
        work = self.workdir
        pki = write_pki(work / "pki")
        tokens = {user: secrets.token_hex(16) for user in ("admin", "controller-manager", "scheduler", "fake-kubelet")}
        # Every component is a cluster admin: a test bench. RBAC still applies to every other identity.
        token_file = work / "tokens.csv"
        token_file.write_text("".join(f'{token},{user},{user},"system:masters"\n' for user, token in tokens.items()))
        token_file.chmod(0o600)
        etcd_port, peer_port, api_port, cm_port, sched_port = free_ports(5)
        server = f"https://127.0.0.1:{api_port}"
        ca_data = base64.b64encode(pki.ca_cert.read_bytes()).decode()
        kubeconfigs = {user: work / f"{user}.kubeconfig" for user in tokens}
        for user, token in tokens.items():
            _write_kubeconfig(
                kubeconfigs[user], {"server": server, "certificate-authority-data": ca_data}, {"token": token}
            )

        etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{peer_port}"
        etcd = self._spawn(
            "etcd",
            {
                "name": "test",
                "data-dir": work / "etcd",
                "listen-client-urls": etcd_url,
                "advertise-client-urls": etcd_url,
                "listen-peer-urls": peer_url,
                "initial-advertise-peer-urls": peer_url,
                "initial-cluster": f"test={peer_url}",
                "logger": "zap",
                "log-level": "warn",
            },
        )
        wait_healthy(f"{etcd_url}/health", READY_TIMEOUT_S, etcd)

        apiserver = self._spawn(
            "kube-apiserver",
            {
                "etcd-servers": etcd_url,
                "bind-address": "127.0.0.1",
                "advertise-address": "127.0.0.1",
                "secure-port": api_port,
                "insecure-port": 0,
                "cert-dir": work / "pki",
                "tls-cert-file": pki.serving_cert,
                "tls-private-key-file": pki.serving_key,
                "token-auth-file": token_file,
                "authorization-mode": "RBAC",
                "service-cluster-ip-range": "10.0.0.0/16",
                "service-account-issuer": SERVICE_ACCOUNT_ISSUER,
                "service-account-key-file": pki.sa_pub,
                "service-account-signing-key-file": pki.sa_key,
                "endpoint-reconciler-type": "none",
                # Pods need no ServiceAccount; new nodes get no not-ready taint (only nodelifecycle would lift it).
                "disable-admission-plugins": "ServiceAccount,TaintNodesByCondition",
                "allow-privileged": "true",
                "profiling": "false",
            },
        )
        trust = ssl.create_default_context(cafile=str(pki.ca_cert))
        headers = {"Authorization": f"Bearer {tokens['admin']}"}

        def api_ready() -> bool:
            try:
                return httpx.get(f"{server}/readyz", headers=headers, verify=trust, timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(apiserver, api_ready, f"200 from {server}/readyz")

        # No leader election (one replica), plain-HTTP health on a free loopback port, no HTTPS listener.
        common = {"leader-elect": "false", "address": "127.0.0.1", "secure-port": 0}
        common |= {"kube-api-qps": 100, "kube-api-burst": 200}
        controller_manager = self._spawn(
            "kube-controller-manager",
            {
                "kubeconfig": kubeconfigs["controller-manager"],
                **common,
                "port": cm_port,
                "controllers": CONTROLLERS,
                "service-account-private-key-file": pki.sa_key,
                "root-ca-file": pki.ca_cert,
                "use-service-account-credentials": "false",
                "enable-hostpath-provisioner": "true",
            },
        )
        scheduler = self._spawn(
            "kube-scheduler", {"kubeconfig": kubeconfigs["scheduler"], **common, "port": sched_port}
        )
        wait_healthy(f"http://127.0.0.1:{cm_port}/healthz", READY_TIMEOUT_S, controller_manager)
        wait_healthy(f"http://127.0.0.1:{sched_port}/healthz", READY_TIMEOUT_S, scheduler)

        api = connect(kubeconfigs["admin"])
        _create_default_storage_class(api)
        self.fake_kubelet = FakeKubelet(connect(kubeconfigs["fake-kubelet"]), self.nodes)
        self.fake_kubelet.start()
        scratch = work / "scratch"
        scratch.mkdir()
        return Cluster(kubeconfig=kubeconfigs["admin"], api=api, scratch=scratch, local=self)

    def _spawn(self, name: str, flags: dict[str, object]) -> Child:
        binary = shutil.which(name) if name == "etcd" else self.bin_dir / name
        if binary is None:
            raise StartupFailed(f"{name} is not installed; scripts/build-control-plane.sh installs etcd-server")
        child = spawn(name, _argv(binary, flags), self.workdir / "logs" / f"{name}.log")
        self.children.append(child)
        return child

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each component now, from /proc."""
        sizes = {}
        for child in self.children:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{child.process.pid}/status").read_text()
                kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
                sizes[child.name] = int(kib) / 1024
        return sizes

    def stop(self) -> None:
        """Stop the fake kubelet, then the processes in reverse order (SIGTERM, wait, SIGKILL); drop the state."""
        if self.fake_kubelet is not None:
            self.fake_kubelet.stop()
        stop_all(self.children, grace_s=10.0)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _create_default_storage_class(api: ApiClient) -> None:
    """A default StorageClass named like kind's, so PVCs bind (hostPath under /tmp, deleted with the PV)."""
    client.StorageV1Api(api).create_storage_class(
        {
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kubernetes.io/host-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        }
    )


@contextlib.contextmanager
def local_cluster(bin_dir: Path, nodes: Sequence[FakeNode] = DEFAULT_NODES) -> Iterator[Cluster]:
    """A started local control plane for the duration of the block."""
    plane = LocalControlPlane(bin_dir, nodes)
    cluster = plane.start()
    try:
        yield cluster
    finally:
        plane.stop()


def main() -> None:
    """Start a cluster, print how to reach it, its start time and RSS; stop on Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with local_cluster(control_plane_binaries()) as cluster:
        assert cluster.local is not None
        rss = cluster.local.rss_mib()
        print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
        print(f"ready in {cluster.local.startup_s:.1f}s; RSS MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))
        print(f"total RSS {sum(rss.values()):.0f} MiB; Ctrl-C stops it", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                signal.pause()


if __name__ == "__main__":
    main()
