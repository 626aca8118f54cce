"""Asynchronous jobs in memory only: at most `capacity` jobs, each kept `retention_s` after it ends.

Past the capacity the oldest finished job is dropped; when every job is still running a new one is
refused (503). User pages never touch the disk.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    id: str
    key: str
    pages: int
    created: float
    done_pages: int = 0
    status: str = "running"  # running | done | failed
    finished: float | None = None
    result: Any = None
    error: str = ""
    progress: list[str] = field(default_factory=list)  # per page: pending | verified | failed

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "pages": self.pages,
            "done_pages": self.done_pages,
            "progress": list(self.progress),
            "error": self.error or None,
            "result": self.result,
        }


class JobsFull(Exception):
    pass


class JobStore:
    def __init__(self, capacity: int = 100, retention_s: float = 3600.0) -> None:
        self.capacity = capacity
        self.retention_s = retention_s
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def __len__(self) -> int:
        return len(self._jobs)

    def expire(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for job_id in [
            j.id for j in self._jobs.values() if j.finished is not None and now - j.finished > self.retention_s
        ]:
            del self._jobs[job_id]

    def create(self, key: str, pages: int) -> Job:
        self.expire()
        if len(self._jobs) >= self.capacity:
            finished = next((j for j in self._jobs.values() if j.finished is not None), None)
            if finished is None:
                raise JobsFull(f"{self.capacity} jobs are running; retry later")
            del self._jobs[finished.id]
        job = Job(secrets.token_urlsafe(16), key, pages, time.monotonic(), progress=["pending"] * pages)
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str, key: str) -> Job | None:
        """Only the key that created a job sees it."""
        self.expire()
        job = self._jobs.get(job_id)
        return job if job is not None and job.key == key else None

    def finish(self, job: Job, result: Any = None, error: str = "") -> None:
        job.status = "failed" if error else "done"
        job.result, job.error, job.finished = result, error, time.monotonic()
