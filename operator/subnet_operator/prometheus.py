"""A minimal client of Prometheus's HTTP API (instant queries), with one error for every way it can fail.

Prometheus often sits behind authentication (kube-rbac-proxy, an ingress, a managed service): the client
sends a bearer token or basic-auth credentials read from files at each request (so a rotated Secret is
picked up without a restart), checks TLS against a given CA, gives each request a timeout and retries
what may pass (no answer, 429, 5xx) a bounded number of times. The operator must keep running when
Prometheus is away: callers catch `PrometheusUnavailable` and turn it into an Unknown condition with the
message as its reason.
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_PAUSE_S = 0.25  # doubled after each attempt


class PrometheusUnavailable(RuntimeError):
    """Prometheus did not answer, or answered with an error."""


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class PrometheusAccess:
    """How to reach Prometheus: `ocr-subnet operator run --prometheus-*`, the chart's `operator.prometheusAuth`."""

    timeout_s: float = 5.0
    retries: int = 2  # further attempts after the first
    bearer_token_file: Path | None = None
    username_file: Path | None = None
    password_file: Path | None = None
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.bearer_token_file and (self.username_file or self.password_file):
            raise ValueError("give Prometheus a bearer token or basic-auth credentials, not both")
        if bool(self.username_file) != bool(self.password_file):
            raise ValueError("basic auth needs both a username file and a password file")
        if self.timeout_s <= 0 or self.retries < 0:
            raise ValueError("the Prometheus timeout must be positive and the retries not negative")


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise PrometheusUnavailable(f"cannot read Prometheus credentials from {path}: {exc}") from exc


class _FileAuth(httpx.Auth):
    """Credentials read at each request from files (a mounted Secret's keys)."""

    def __init__(self, access: PrometheusAccess) -> None:
        self._access = access

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        access = self._access
        if access.bearer_token_file:
            request.headers["Authorization"] = f"Bearer {_read(access.bearer_token_file)}"
        elif access.username_file and access.password_file:
            basic = httpx.BasicAuth(_read(access.username_file), _read(access.password_file))
            yield from basic.auth_flow(request)
            return
        yield request


class Prometheus:
    def __init__(self, url: str, access: PrometheusAccess | None = None) -> None:
        self.url = url.rstrip("/")
        self.access = access or PrometheusAccess()
        verify: ssl.SSLContext | bool = True
        if self.access.ca_file:
            verify = ssl.create_default_context(cafile=str(self.access.ca_file))
        self._http = httpx.Client(
            base_url=self.url,
            timeout=self.access.timeout_s,
            trust_env=False,
            verify=verify,
            auth=_FileAuth(self.access),
        )

    def close(self) -> None:
        self._http.close()

    def _get(self, promql: str) -> httpx.Response:
        """One answer, after up to `retries` further attempts at what may pass; the last failure raises."""
        attempt, pause = 0, RETRY_PAUSE_S
        while True:
            last = attempt >= self.access.retries
            try:
                response = self._http.get("/api/v1/query", params={"query": promql})
            except httpx.HTTPError as exc:
                if last:
                    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "is unreachable"
                    tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
                    raise PrometheusUnavailable(f"Prometheus at {self.url} {kind} ({tries}): {exc}") from exc
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return response
            time.sleep(pause)
            attempt, pause = attempt + 1, pause * 2

    def query(self, promql: str) -> list[Sample]:
        """An instant vector; NaN samples (0/0 and the like) are dropped as carrying no information."""
        response = self._get(promql)
        if response.status_code in (401, 403):
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} refused the operator's credentials (HTTP {response.status_code})"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} answered HTTP {response.status_code} without JSON: {response.text[:200]}"
            ) from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} refused the query: {body.get('error', response.text)}"
            )
        data = body["data"]
        if data["resultType"] != "vector":
            raise PrometheusUnavailable(f"expected an instant vector, got {data['resultType']}")
        samples = [Sample(item["metric"], float(item["value"][1])) for item in data["result"]]
        return [s for s in samples if not math.isnan(s.value)]
