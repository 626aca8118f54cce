"""A real Prometheus server (Debian's /usr/bin/prometheus) on loopback, for tests that read metrics through it.

The operator and the chart read metrics only through Prometheus's HTTP API, so tests give them a real one:
a short scrape interval, storage in a temp dir, and a query helper that polls until a series shows up
(scrapes are asynchronous; a bounded wait is not a timing assertion).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from ocr_subnet.local.procs import Child, spawn, stop_all, wait_healthy

from tests.support.ports import free_port
from tests.support.tools import require_tool

READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Sample:
    """One series of an instant-vector result."""

    labels: dict[str, str]
    value: float


def scrape_config(jobs: Mapping[str, Sequence[str]], interval_s: float = 1.0) -> dict[str, Any]:
    """A config scraping each job's static `host:port` targets every `interval_s` seconds."""
    interval = f"{int(interval_s * 1000)}ms"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]} for job, targets in jobs.items()
        ],
    }


class Prometheus:
    """A running server: `url`, instant queries, a bounded wait for a result, and `stop`."""

    def __init__(self, child: Child, url: str) -> None:
        self.child = child
        self.url = url

    def query(self, expr: str) -> list[Sample]:
        """Evaluate `expr` now; instant vectors and scalars both come back as samples."""
        reply = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10.0, trust_env=False)
        body = reply.json()
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus rejected {expr!r}: {body.get('error', reply.text)}")
        data = body["data"]
        if data["resultType"] == "vector":
            return [Sample(item["metric"], float(item["value"][1])) for item in data["result"]]
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        raise RuntimeError(f"{expr!r} gave a {data['resultType']}, not an instant vector or scalar")

    def wait_for(
        self, expr: str, until: Callable[[list[Sample]], bool] = bool, timeout_s: float = 30.0
    ) -> list[Sample]:
        """Poll `expr` until `until(samples)` holds (default: any result); fail with the targets' health."""
        deadline = time.monotonic() + timeout_s
        samples = self.query(expr)
        while not until(samples):
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr!r} still gives {samples} after {timeout_s:g}s; targets: {self.targets()}")
            time.sleep(0.25)
            samples = self.query(expr)
        return samples

    def targets(self) -> list[dict[str, Any]]:
        """Each active target's URL, health and last scrape error (what to look at when a series is missing)."""
        reply = httpx.get(f"{self.url}/api/v1/targets", timeout=10.0, trust_env=False).json()
        return [
            {key: target.get(key) for key in ("scrapeUrl", "health", "lastError")}
            for target in reply["data"]["activeTargets"]
        ]

    def stop(self) -> None:
        stop_all([self.child], grace_s=10.0)


def start_prometheus(workdir: Path, config: Mapping[str, Any], host: str = "127.0.0.1") -> Prometheus:
    """Start Prometheus with `config` on a free port of `host` (loopback unless a test's own network namespace
    holds it), storage under `workdir`; return once ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config)))
    port = free_port()
    child = spawn(
        "prometheus",
        [
            require_tool("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={host}:{port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ],
        workdir / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}" if host in ("127.0.0.1", "0.0.0.0") else f"http://{host}:{port}"
    try:
        wait_healthy(f"{url}/-/ready", READY_TIMEOUT_S, child)
    except BaseException:
        stop_all([child])
        raise
    return Prometheus(child, url)
