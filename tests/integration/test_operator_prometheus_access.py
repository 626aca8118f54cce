"""The operator's Prometheus client against a real Prometheus behind a loopback HTTPS guard that demands
credentials, as kube-rbac-proxy or an ingress with auth would: bearer token, basic auth, TLS checked against
a CA, retries of what may pass, timeouts, and a clear error for each way it fails; and the operator process
on the real control plane, given those options as the chart gives them."""

from __future__ import annotations

import base64
import http.server
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from subnet_operator import api
from subnet_operator.prometheus import Prometheus, PrometheusAccess, PrometheusUnavailable

from tests.integration.operator_harness import SETTLE_S, Resources, install_crds, running_operator, validator_manifest
from tests.support.cluster import Cluster
from tests.support.pki import Pki, write_pki
from tests.support.poll import wait_until
from tests.support.prometheus import Prometheus as PrometheusServer

pytestmark = pytest.mark.integration

StartPrometheus = Callable[[Mapping[str, Any]], PrometheusServer]
TOKEN = "s3cr3t-token"
USER, PASSWORD = "operator", "pa55word"
QUERY = "vector(42)"


@dataclass
class Guard:
    """HTTPS on loopback in front of Prometheus: checks the Authorization header, then forwards the query.
    `fail_next` answers that many requests with 503 first; `delay_s` holds every answer that long."""

    upstream: str
    pki: Pki
    authorization: str
    fail_next: int = 0
    delay_s: float = 0.0
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        guard = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                guard.seen.append(self.headers.get("Authorization", ""))
                time.sleep(guard.delay_s)
                if self.headers.get("Authorization") != guard.authorization:
                    return self._send(401, b"Unauthorized")
                if guard.fail_next > 0:
                    guard.fail_next -= 1
                    return self._send(503, b"overloaded")
                answer = httpx.get(guard.upstream + self.path, timeout=10.0, trust_env=False)
                return self._send(answer.status_code, answer.content)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.serving_cert, self.pki.serving_key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def upstream(prometheus: StartPrometheus) -> PrometheusServer:
    return prometheus({"global": {"scrape_interval": "1s"}, "scrape_configs": []})


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return write_pki(tmp_path / "pki")


@pytest.fixture
def guard(upstream: PrometheusServer, pki: Pki) -> Iterator[Callable[[str], Guard]]:
    started: list[Guard] = []

    def start(authorization: str) -> Guard:
        started.append(Guard(upstream.url, pki, authorization))
        return started[-1]

    yield start
    for server in started:
        server.close()


def secret(folder: Path, name: str, value: str) -> Path:
    """A file as a mounted Secret key holds it (a trailing newline, as `kubectl create secret` often leaves)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(value + "\n")
    return folder / name


def answer(client: Prometheus) -> float:
    try:
        [sample] = client.query(QUERY)
    finally:
        client.close()
    return sample.value


def test_a_bearer_token_from_a_file_is_sent_and_reread_after_rotation(
    guard: Callable[[str], Guard], pki: Pki, tmp_path: Path
) -> None:
    server = guard(f"Bearer {TOKEN}")
    token = secret(tmp_path / "secret", "token", TOKEN)
    access = PrometheusAccess(bearer_token_file=token, ca_file=pki.ca_cert)
    client = Prometheus(server.url, access)
    assert client.query(QUERY)[0].value == 42.0
    token.write_text("rotated\n")  # the kubelet updates a mounted Secret in place
    server.authorization = "Bearer rotated"
    assert answer(client) == 42.0


def test_basic_auth_from_files(guard: Callable[[str], Guard], pki: Pki, tmp_path: Path) -> None:
    server = guard("Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    access = PrometheusAccess(
        username_file=secret(tmp_path / "basic", "username", USER),
        password_file=secret(tmp_path / "basic", "password", PASSWORD),
        ca_file=pki.ca_cert,
    )
    assert answer(Prometheus(server.url, access)) == 42.0


def test_wrong_credentials_are_named_and_not_retried(guard: Callable[[str], Guard], pki: Pki, tmp_path: Path) -> None:
    server = guard(f"Bearer {TOKEN}")
    access = PrometheusAccess(bearer_token_file=secret(tmp_path / "s", "token", "wrong"), ca_file=pki.ca_cert)
    with pytest.raises(PrometheusUnavailable, match=r"refused the operator's credentials \(HTTP 401\)"):
        answer(Prometheus(server.url, access))
    assert server.seen == ["Bearer wrong"]


def test_a_certificate_from_an_unknown_ca_is_refused(guard: Callable[[str], Guard], tmp_path: Path) -> None:
    server = guard(f"Bearer {TOKEN}")
    stranger = write_pki(tmp_path / "other-ca")
    access = PrometheusAccess(
        bearer_token_file=secret(tmp_path / "s", "token", TOKEN), ca_file=stranger.ca_cert, retries=0
    )
    with pytest.raises(PrometheusUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        answer(Prometheus(server.url, access))
    assert server.seen == []  # nothing was sent before the handshake failed


def test_overload_is_retried_then_answered_or_reported(guard: Callable[[str], Guard], pki: Pki, tmp_path: Path) -> None:
    server = guard(f"Bearer {TOKEN}")
    access = PrometheusAccess(bearer_token_file=secret(tmp_path / "s", "token", TOKEN), ca_file=pki.ca_cert)
    server.fail_next = 2
    assert answer(Prometheus(server.url, access)) == 42.0
    assert len(server.seen) == 3  # two 503s, then the answer
    server.fail_next = 3
    with pytest.raises(PrometheusUnavailable, match="answered HTTP 503 without JSON: overloaded"):
        answer(Prometheus(server.url, access))


def test_a_hung_prometheus_times_out_after_the_retries(guard: Callable[[str], Guard], pki: Pki, tmp_path: Path) -> None:
    server = guard(f"Bearer {TOKEN}")
    server.delay_s = 2.0
    token = secret(tmp_path / "s", "token", TOKEN)
    access = PrometheusAccess(bearer_token_file=token, ca_file=pki.ca_cert, timeout_s=0.2, retries=1)
    with pytest.raises(PrometheusUnavailable, match=r"timed out \(2 attempts\)"):
        answer(Prometheus(server.url, access))


def test_contradictory_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="bearer token or basic-auth credentials, not both"):
        PrometheusAccess(bearer_token_file=Path("t"), username_file=Path("u"), password_file=Path("p"))
    with pytest.raises(ValueError, match="needs both a username file and a password file"):
        PrometheusAccess(username_file=Path("u"))
    with pytest.raises(ValueError, match="timeout must be positive"):
        PrometheusAccess(timeout_s=0)


def test_a_missing_credentials_file_is_named(tmp_path: Path) -> None:
    access = PrometheusAccess(bearer_token_file=tmp_path / "absent", retries=0)
    with pytest.raises(PrometheusUnavailable, match=f"cannot read Prometheus credentials from {tmp_path / 'absent'}"):
        answer(Prometheus("http://127.0.0.1:9", access))


def test_the_operator_queries_with_the_mounted_credentials_and_picks_up_a_rotation(
    k8s_cluster: Cluster, k8s_namespace: str, guard: Callable[[str], Guard], pki: Pki, tmp_path: Path
) -> None:
    """`ocr-subnet operator run --prometheus-*` as the chart passes them: refused with a stale token (the
    condition says so), then answered once the mounted Secret holds the new one, without a restart."""
    install_crds(k8s_cluster)
    ns = k8s_namespace
    resources = Resources(k8s_cluster, ns)
    server = guard(f"Bearer {TOKEN}")
    token = secret(tmp_path / "secret", "token", "stale")
    options = ("--prometheus-bearer-token-file", str(token), "--prometheus-ca-file", str(pki.ca_cert))
    with running_operator(
        k8s_cluster, ns, tmp_path / "operator.log", namespaces=[ns], prometheus_url=server.url, extra_args=options
    ):
        resources.apply(validator_manifest("v1"))
        refused = wait_until(
            lambda: resources.has_condition(api.VALIDATOR, "v1", api.WEIGHTS_HEALTHY, "Unknown"), "v1 WeightsHealthy"
        )
        assert refused["reason"] == "PrometheusUnavailable"
        assert refused["message"] == f"Prometheus at {server.url} refused the operator's credentials (HTTP 401)"
        token.write_text(TOKEN + "\n")
        answered = wait_until(
            lambda: (
                (found := resources.condition(api.VALIDATOR, "v1", api.WEIGHTS_HEALTHY))
                and found["reason"] != "PrometheusUnavailable"
                and found
            ),
            "an answer with the rotated token",
            timeout_s=SETTLE_S,
        )
        assert answered["reason"] == "NoMetrics"  # Prometheus answered: it has no series of this validator
        assert f"Bearer {TOKEN}" in server.seen
