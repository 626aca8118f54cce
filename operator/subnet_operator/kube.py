"""The few Kubernetes API calls the handlers make, on plain JSON: server-side apply, create-if-absent,
read, scale, delete.

The `kubernetes` package only loads the connection settings (kubeconfig, in-cluster service account,
token refresh); requests go through one pooled httpx client, so no generated model classes sit on
the hot path of 256 resources, and kopf logs in with the very same credentials (`connection_info`).
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import kopf
import kubernetes

from subnet_operator import api

Manifest = dict[str, Any]

# Plural of each kind the operator writes; the path of an object follows from it.
PLURALS = {
    ("v1", "Service"): "services",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("apps/v1", "Deployment"): "deployments",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("networking.k8s.io/v1", "Ingress"): "ingresses",
    **{(api.API_VERSION, kind.kind): kind.plural for kind in api.KINDS},
}


class KubeError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def load_configuration(kubeconfig: str | None) -> kubernetes.client.Configuration:
    """`kubeconfig` when given; else the in-cluster service account, else the default kubeconfig."""
    config = kubernetes.client.Configuration()
    if kubeconfig:
        kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=config, persist_config=False)
        return config
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=config, persist_config=False)
    return config


def _bearer(config: kubernetes.client.Configuration) -> str | None:
    header = config.get_api_key_with_prefix("BearerToken")  # refreshes rotating service-account tokens
    return header.split(" ", 1)[1] if header else None


def connection_info(config: kubernetes.client.Configuration) -> kopf.ConnectionInfo:
    token = _bearer(config)
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )


class _TokenAuth(httpx.Auth):
    def __init__(self, config: kubernetes.client.Configuration) -> None:
        self._config = config

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = _bearer(self._config)
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


def object_path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{PLURALS[(api_version, kind)]}"
    return f"{path}/{name}" if name else path


@dataclass
class Cluster:
    """Thread-safe (httpx clients are): sync handlers run in kopf's thread pool."""

    http: httpx.Client

    @classmethod
    def connect(cls, config: kubernetes.client.Configuration, timeout_s: float = 30.0) -> Cluster:
        verify: ssl.SSLContext | bool = False
        if config.verify_ssl:
            verify = ssl.create_default_context(cafile=config.ssl_ca_cert)
            if config.cert_file:
                verify.load_cert_chain(config.cert_file, config.key_file)
        client = httpx.Client(
            base_url=config.host,
            verify=verify,
            auth=_TokenAuth(config),
            timeout=timeout_s,
            trust_env=False,
            headers={"Accept": "application/json"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )
        return cls(client)

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, *, allow: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.is_success or response.status_code in allow:
            return response
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise KubeError(response.status_code, message)

    def apply(self, manifest: Mapping[str, Any], field_manager: str = api.FIELD_MANAGER) -> Manifest:
        """Server-side apply: creates or updates, owns exactly the fields the manifest sets; idempotent."""
        meta = manifest["metadata"]
        path = object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
        response = self._send(
            "PATCH",
            path,
            params={"fieldManager": field_manager, "force": "true"},
            json=dict(manifest),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        return response.json()

    def create_if_absent(self, manifest: Mapping[str, Any]) -> None:
        """For objects the operator sets up once and then leaves alone (a state volume's claim)."""
        meta = manifest["metadata"]
        path = object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
        self._send("POST", path, json=dict(manifest), params={"fieldManager": api.FIELD_MANAGER}, allow=(409,))

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Manifest | None:
        response = self._send("GET", object_path(api_version, kind, namespace, name), allow=(404,))
        return None if response.status_code == 404 else response.json()

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        """True when something was deleted; a missing object is fine."""
        response = self._send("DELETE", object_path(api_version, kind, namespace, name), allow=(404,))
        return response.status_code != 404

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self._send(
            "PATCH",
            object_path("apps/v1", "Deployment", namespace, name),
            params={"fieldManager": api.SCALER_FIELD_MANAGER},
            json={"spec": {"replicas": replicas}},
            headers={"Content-Type": "application/merge-patch+json"},
        )

    def ensure_peering(self, namespace: str | None) -> bool:
        """Create kopf's peering object if its CRD is installed; False when it is not (standalone)."""
        body: Manifest = {
            "apiVersion": "kopf.dev/v1",
            "kind": "KopfPeering" if namespace else "ClusterKopfPeering",
            "metadata": {"name": api.PEERING_NAME},
        }
        path = (
            f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings"
            if namespace
            else "/apis/kopf.dev/v1/clusterkopfpeerings"
        )
        response = self._send("POST", path, json=body, allow=(404, 409))
        return response.status_code != 404
