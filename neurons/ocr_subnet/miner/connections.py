"""The miner's HTTP/1.1 connections: a deadline on each request head, and a connection cap that idle
peers cannot use to lock validators out.

uvicorn has neither (its issue #157 asks for a request-start timeout): `timeout_keep_alive` starts only
after a first response and stops at the first byte received, and `limit_concurrency` counts every open
connection, so seventy clients that connect and never finish a header made every later request a 503.
uvicorn does take its HTTP protocol as a class (`Config(http=...)`), and this is that class: its own h11
protocol with two rules added at the connection level, where ASGI middleware cannot reach (the app sees
a request only once its head is complete).

- A connection has `head_timeout_s` to deliver a complete request head, counted from when it opened or
  its previous response ended; a trickle of bytes does not reset it. Past it the connection is closed.
- Past `max_connections` open connections, a new one closes the connection that has waited longest for
  a request head (the new one itself when every other is busy with a request). Requests in progress
  are never cut; a validator's connection, whose head follows its connect at once, is not the longest
  waiting one unless `max_connections` other connections opened in between.

Work and memory per request are bounded by the app (stake-ordered gate, body and pixel budgets), not here.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEAD_TIMEOUT_S = 5.0
DEFAULT_MAX_CONNECTIONS = 1024


class ConnectionRegistry:
    """The connections of one server that are waiting for a request head, longest waiting first."""

    def __init__(self) -> None:
        self.open = 0
        self.waiting: dict[GuardedH11Protocol, None] = {}
        self.closed_for_slow_head = 0
        self.evicted = 0


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and an evicting connection cap.

    Use `guarded_protocol(...)`, which binds the settings and a registry shared by one server.
    """

    head_timeout_s: ClassVar[float] = DEFAULT_HEAD_TIMEOUT_S
    max_connections: ClassVar[int] = DEFAULT_MAX_CONNECTIONS
    registry: ClassVar[ConnectionRegistry]

    _head_timer: asyncio.TimerHandle | None = None
    _counted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._counted = True
        self.registry.open += 1
        self._await_head()
        if self.registry.open > self.max_connections:
            oldest = next(iter(self.registry.waiting))  # self is waiting, so there is one
            self.registry.evicted += 1
            oldest._close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self in self.registry.waiting and self._request_in_progress():
            self._head_arrived()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self._request_in_progress():  # a pipelined request was already waiting in the buffer
            self._head_arrived()
        else:
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def _request_in_progress(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _await_head(self) -> None:
        self._cancel_timer()
        self.registry.waiting.pop(self, None)
        self.registry.waiting[self] = None  # to the end: the longest waiting stay first
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _head_arrived(self) -> None:
        self._cancel_timer()
        self.registry.waiting.pop(self, None)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self in self.registry.waiting and not self._request_in_progress():
            self.registry.closed_for_slow_head += 1
            self._close()

    def _close(self) -> None:
        """Closes without a response: the peer sent no complete request to answer."""
        self._forget()
        self.transport.close()

    def _forget(self) -> None:
        self._cancel_timer()
        self.registry.waiting.pop(self, None)
        if self._counted:
            self._counted = False
            self.registry.open -= 1

    def _cancel_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


def guarded_protocol(
    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S, max_connections: int = DEFAULT_MAX_CONNECTIONS
) -> type[GuardedH11Protocol]:
    """A protocol class for `uvicorn.Config(http=...)` with these limits and a registry of its own
    (one per server: two servers in a process never share a cap)."""
    if head_timeout_s <= 0 or max_connections < 1:
        raise ValueError(f"need head_timeout_s > 0 and max_connections >= 1, got {head_timeout_s}, {max_connections}")
    return type(
        "MinerH11Protocol",
        (GuardedH11Protocol,),
        {"head_timeout_s": head_timeout_s, "max_connections": max_connections, "registry": ConnectionRegistry()},
    )
