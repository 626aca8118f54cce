"""Everything a miner can be told, in one value the CLI, the launcher and tests all build."""

from __future__ import annotations

from dataclasses import dataclass

from ocr_subnet.miner.connections import DEFAULT_HEAD_TIMEOUT_S, DEFAULT_MAX_CONNECTIONS
from ocr_subnet.miner.policy import advertised_address
from ocr_subnet.protocol import MAX_BODY_BYTES, MAX_IMAGE_PIXELS

DEFAULT_MAX_BODY_BYTES_IN_FLIGHT = 8 * MAX_BODY_BYTES  # 64 MiB: eight full-size bodies, a thousand real pages


@dataclass(frozen=True)
class MinerConfig:
    network: str = "local"  # local | test | finney | ws://... | http://127.0.0.1:PORT (local chain)
    netuid: int = 1
    wallet_name: str = "miner"
    wallet_hotkey: str = "default"
    wallet_path: str | None = None  # None: bittensor's default (~/.bittensor/wallets)
    host: str = "127.0.0.1"
    port: int = 8091
    external_ip: str | None = None  # published on chain; defaults to `host`
    external_port: int | None = None  # published on chain; defaults to `port`
    serve_axon: bool = True
    backend: str = "tesseract"
    triton_url: str | None = None  # backend triton: grpc://HOST:PORT; None starts an embedded server
    min_stake: float = 0.0
    require_validator_permit: bool = True
    max_concurrency: int = 2  # backend slots: pages recognized at once
    max_queue: int = 16  # requests waiting for a slot before the miner answers "overloaded"
    # open connections; past it the one waiting longest for a request head is closed (miner/connections.py)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S  # to send a complete request head, trickle or not
    max_body_bytes_in_flight: int = DEFAULT_MAX_BODY_BYTES_IN_FLIGHT  # request bodies held at once
    # decoded image pixels held at once; the default, one full-size page (75 MB as RGB, several hundred
    # MB inside tesseract) or ~40 challenge pages, keeps a miner under attack well inside 1 GiB
    max_decoded_pixels: int = MAX_IMAGE_PIXELS
    metagraph_refresh_s: float = 30.0
    chain_timeout_s: float = 30.0  # one chain call; a hung call must not stall the refresh loop
    startup_timeout_s: float = 120.0  # first metagraph + serving the axon; past this the miner exits
    auth_max_age_s: float = 10.0
    auth_allowed_skew_s: float = 2.0
    response_margin_s: float = 0.2  # kept free of the caller's deadline for the answer's trip back
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or self.max_queue < 0 or self.max_connections < 1:
            raise ValueError("max_concurrency and max_connections must be >= 1, max_queue >= 0")
        if self.head_timeout_s <= 0:
            raise ValueError(f"head_timeout_s must be > 0, got {self.head_timeout_s}")
        if self.max_body_bytes_in_flight < MAX_BODY_BYTES:
            raise ValueError(
                f"max_body_bytes_in_flight must be at least one full-size body ({MAX_BODY_BYTES}),"
                f" got {self.max_body_bytes_in_flight}"
            )
        if self.max_decoded_pixels < 1:
            raise ValueError(f"max_decoded_pixels must be >= 1, got {self.max_decoded_pixels}")
        if self.min_stake < 0:
            raise ValueError(f"min_stake must be >= 0, got {self.min_stake}")
        if self.metagraph_refresh_s <= 0 or self.chain_timeout_s <= 0 or self.startup_timeout_s <= 0:
            raise ValueError("metagraph_refresh_s, chain_timeout_s and startup_timeout_s must be > 0")
        if self.triton_url is not None and self.backend != "triton":
            raise ValueError(f"--triton-url applies to --backend triton only, not {self.backend!r}")
        if self.serve_axon:
            self.axon_address()

    def axon_address(self) -> tuple[str, int]:
        return advertised_address(self.host, self.port, self.external_ip, self.external_port)
