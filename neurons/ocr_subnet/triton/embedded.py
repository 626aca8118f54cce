"""A Triton server owned by one process: `ocr-subnet triton serve` as a child on free loopback ports.

A miner without `--triton-url` (and `ocr-subnet ocr`) starts one, so the model works with no
Triton pod. The child is the same command the pods run, in its own process group, logging to a
file; it receives SIGTERM when its parent dies (even SIGKILLed: the parent-death signal, which
Linux sends when the *thread* that started the child ends, so start it from a long-lived thread).
Start-up waits for /v2/health/ready and fails fast, with the end of the child's log, if it exits.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ocr_subnet.local.procs import Child, StartupFailed, free_port, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.triton import LOOPBACK

READY_PATH = "/v2/health/ready"


@dataclass
class EmbeddedTriton:
    child: Child
    http_port: int
    grpc_port: int
    metrics_port: int
    temporary_log: bool = False  # ours to remove once the server has stopped cleanly

    @property
    def grpc_url(self) -> str:
        return f"grpc://{LOOPBACK}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @classmethod
    def start(
        cls,
        model_repo: Path | None = None,
        startup_timeout_s: float = 180.0,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> EmbeddedTriton:
        """Starts and waits until ready; raises `StartupFailed` (with the log's tail) otherwise.

        `model_repo` None serves the packaged weights. The ports are free when picked and bound
        by the child a moment later; another process taking one meanwhile fails the start cleanly.
        """
        http_port, grpc_port, metrics_port = free_port(LOOPBACK), free_port(LOOPBACK), free_port(LOOPBACK)
        if len({http_port, grpc_port, metrics_port}) < 3:
            raise StartupFailed("the OS offered the same free port twice; try again")
        temporary_log = log_path is None
        if log_path is None:
            log_path = Path(tempfile.gettempdir()) / f"ocr-subnet-triton-{os.getpid()}-{grpc_port}.log"
        argv = [
            *ocr_subnet_command(),
            *("triton", "serve", "--host", LOOPBACK, "--http-port", str(http_port)),
            *("--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port)),
            *(("--model-repo", str(model_repo)) if model_repo is not None else ()),
            *extra_args,
        ]
        server = cls(spawn("triton", argv, log_path), http_port, grpc_port, metrics_port, temporary_log)
        try:
            wait_healthy(server.http_url + READY_PATH, startup_timeout_s, server.child)
        except StartupFailed:
            server.stop()  # the log stays: the error names it
            raise
        return server

    def stop(self, grace_s: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `grace_s`; the child's exit code. A temporary log goes after a
        clean stop (0: the server's own graceful exit) and stays for a look after anything else."""
        code = stop_all([self.child], grace_s)[self.child.name]
        if code == 0 and self.temporary_log:
            self.child.log_path.unlink(missing_ok=True)
        return code
