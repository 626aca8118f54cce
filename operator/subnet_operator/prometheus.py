"""A minimal client of Prometheus's HTTP API (instant queries), with one error for every way it can fail.

The operator must keep running when Prometheus is away: callers catch `PrometheusUnavailable` and
turn it into an Unknown condition with the message as its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import httpx


class PrometheusUnavailable(RuntimeError):
    """Prometheus did not answer, or answered with an error."""


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


class Prometheus:
    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def query(self, promql: str) -> list[Sample]:
        """An instant vector; NaN samples (0/0 and the like) are dropped as carrying no information."""
        try:
            response = self._http.get("/api/v1/query", params={"query": promql})
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusUnavailable(f"Prometheus at {self.url} is unreachable: {exc}") from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} refused the query: {body.get('error', response.text)}"
            )
        data = body["data"]
        if data["resultType"] != "vector":
            raise PrometheusUnavailable(f"expected an instant vector, got {data['resultType']}")
        samples = [Sample(item["metric"], float(item["value"][1])) for item in data["result"]]
        return [s for s in samples if not math.isnan(s.value)]
