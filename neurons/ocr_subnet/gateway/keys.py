"""API keys: stored as SHA-256 hashes in a JSON file (or a Kubernetes Secret mounted as one), never in clear.

The file: `{"keys": [{"name": "demo", "sha256": "<hex>", "rate_per_minute": 60, "quota_pages": 10000}]}`.
A key is a random 256-bit token, so a plain SHA-256 is enough: there is nothing to brute-force.
Per key: a token bucket of requests per minute and a quota of pages per process lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ANONYMOUS = "anonymous"


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rate_per_minute: float = Field(default=60.0, gt=0)
    quota_pages: int = Field(default=10_000, ge=0)


class KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry] = Field(default_factory=list)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "ocr_" + secrets.token_urlsafe(32)


def load_keys(path: Path) -> KeyFile:
    """Raises `ValueError` with the file's name when it is missing or malformed: the gateway then refuses to start."""
    try:
        return KeyFile.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"API key file {path}: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"API key file {path} is malformed: {str(exc).splitlines()[0]}") from exc


def add_key(path: Path, name: str, rate_per_minute: float = 60.0, quota_pages: int = 10_000) -> str:
    """Generates a key, stores only its hash in `path` (created if absent), returns the key once."""
    current = load_keys(path) if path.exists() else KeyFile()
    key = new_key()
    entry = KeyEntry(name=name, sha256=hash_key(key), rate_per_minute=rate_per_minute, quota_pages=quota_pages)
    current.keys = [k for k in current.keys if k.name != name] + [entry]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current.model_dump(), indent=2))
    path.chmod(0o600)
    return key


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Access:
    """Who may call, how often and how much; thread-safe."""

    def __init__(self, keys: KeyFile, anonymous: KeyEntry | None = None) -> None:
        self._by_hash = {entry.sha256: entry for entry in keys.keys}
        self._anonymous = anonymous
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, float]] = {}  # name -> (tokens, at monotonic time)
        self.pages_used: dict[str, int] = {}

    def identify(self, authorization: str | None) -> KeyEntry:
        """The key's entry, or `Refused(401)`; anonymous callers only when enabled."""
        if not authorization:
            if self._anonymous is not None:
                return self._anonymous
            raise Refused(401, "missing API key: send `Authorization: Bearer <key>`")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(401, "malformed Authorization header: expected `Bearer <key>`")
        digest = hash_key(token.strip())
        for known, entry in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return entry
        raise Refused(401, "unknown API key")

    def admit(self, entry: KeyEntry, pages: int, now: float) -> None:
        """Takes one request from the key's bucket and `pages` from its quota, or refuses with 429."""
        with self._lock:
            capacity = max(1.0, entry.rate_per_minute)
            tokens, then = self._tokens.get(entry.name, (capacity, now))
            tokens = min(capacity, tokens + (now - then) * entry.rate_per_minute / 60.0)
            if tokens < 1.0:
                self._tokens[entry.name] = (tokens, now)
                wait = (1.0 - tokens) * 60.0 / entry.rate_per_minute
                raise Refused(429, f"rate limit of {entry.rate_per_minute:g} requests per minute; retry in {wait:.1f}s")
            used = self.pages_used.get(entry.name, 0)
            if used + pages > entry.quota_pages:
                self._tokens[entry.name] = (tokens, now)
                raise Refused(429, f"quota of {entry.quota_pages} pages: {used} used, this document has {pages}")
            self._tokens[entry.name] = (tokens - 1.0, now)
            self.pages_used[entry.name] = used + pages


def anonymous_entry(rate_per_minute: float, quota_pages: int) -> KeyEntry:
    return KeyEntry(name=ANONYMOUS, sha256="0" * 64, rate_per_minute=rate_per_minute, quota_pages=quota_pages)
