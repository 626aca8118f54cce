"""Starting a miner: from a `MinerConfig` alone (`run_miner`), or from pieces a caller already holds
(`build_server`: the local-subnet launcher, tests and benchmarks pass their own chain and backend)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import bittensor as bt
import uvicorn

from ocr_subnet.backends.base import BackendError, OcrBackend
from ocr_subnet.chain.port import ChainPort
from ocr_subnet.logs import configure_logging, log_event
from ocr_subnet.miner.app import build_app
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.miner.connections import guarded_protocol

logger = logging.getLogger(__name__)

STARTUP_FAILURE_EXIT_CODE = 3  # uvicorn's own code for a failed lifespan startup

GRACEFUL_SHUTDOWN_S = 5


@dataclass(frozen=True)
class BackendOptions:
    triton_url: str | None = None  # None: the triton backend starts its own server (packaged weights)
    timeout_s: float | None = None  # per request, retries included; None: the backend's own (the miner's)


def _tesseract(_options: BackendOptions) -> OcrBackend:
    from ocr_subnet.backends.tesseract import TesseractBackend

    return TesseractBackend()


def _triton(options: BackendOptions) -> OcrBackend:
    from ocr_subnet.backends.triton import TritonBackend

    if options.timeout_s is None:
        return TritonBackend(options.triton_url)
    return TritonBackend(options.triton_url, timeout_s=options.timeout_s)


# Imported lazily: a backend may pull in heavy libraries (tritonclient) the others never need.
BACKENDS: dict[str, Callable[[BackendOptions], OcrBackend]] = {"tesseract": _tesseract, "triton": _triton}


def load_backend(name: str, options: BackendOptions | None = None) -> OcrBackend:
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}") from None
    return factory(options or BackendOptions())


def default_backend() -> str:
    """Our model once its weights ship in the package; tesseract until then."""
    from ocr_subnet.triton.repository import packaged_weights_exist

    return "triton" if packaged_weights_exist() else "tesseract"


def build_server(config: MinerConfig, chain: ChainPort, backend: OcrBackend, wallet: bt.Wallet) -> uvicorn.Server:
    """An unstarted uvicorn server for the miner. Run it with `server.run()` (or
    `server.run(sockets=[bound_socket])`), stop it with `server.should_exit = True`."""
    app = build_app(config, chain, backend, wallet)
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            lifespan="on",
            log_config=None,  # uvicorn logs through the root logger: one JSON event per line
            access_log=False,  # each request is logged once, with its outcome, by the app
            # no limit_concurrency: it counts idle connections too, so idle peers could lock everyone out;
            # connections are capped by the protocol below, work and memory by the app's gate and budgets
            http=guarded_protocol(config.head_timeout_s, config.max_connections),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            server_header=False,
        )
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one, readable before the server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def run_miner(config: MinerConfig) -> None:
    """Runs a miner until SIGINT/SIGTERM (after a graceful stop uvicorn re-raises the signal, so the
    process ends as killed by it); exits with status 3 when startup fails."""
    from ocr_subnet.chain import connect

    configure_logging(config.log_level)
    wallet = bt.Wallet(config.wallet_name, config.wallet_hotkey, **_wallet_path(config))
    chain = connect(config.network, config.netuid)
    try:
        backend = load_backend(config.backend, BackendOptions(triton_url=config.triton_url))
    except BackendError as exc:  # e.g. missing weights: say so at start, not at the first request
        log_event(logger, "backend_start_failed", logging.ERROR, backend=config.backend, error=str(exc))
        raise SystemExit(STARTUP_FAILURE_EXIT_CODE) from exc
    server = build_server(config, chain, backend, wallet)
    server.run()
    if not server.started:
        backend.close()  # the lifespan that closes it did not get that far (an embedded Triton would linger)
        raise SystemExit(STARTUP_FAILURE_EXIT_CODE)


def _wallet_path(config: MinerConfig) -> dict[str, str]:
    return {} if config.wallet_path is None else {"path": config.wallet_path}
