"""The miner's connection guard in a real uvicorn server on loopback: slow or idle peers are closed,
requests in progress never are, and idle connections cannot make the server refuse anyone."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
import uvicorn
from ocr_subnet.miner.connections import ConnectionRegistry, guarded_protocol
from ocr_subnet.miner.run import bind_socket

HOST = "127.0.0.1"
HEAD_TIMEOUT_S = 0.5
MAX_CONNECTIONS = 4
WAIT_S = 20.0  # a bound so a broken guard fails the test instead of hanging it; never a speed claim
REQUEST = b"GET /slow HTTP/1.1\r\nHost: miner\r\n\r\n"


async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(HEAD_TIMEOUT_S * 3)  # the answer takes longer than a head may
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


@contextmanager
def serving() -> Iterator[tuple[int, ConnectionRegistry]]:
    protocol = guarded_protocol(HEAD_TIMEOUT_S, MAX_CONNECTIONS)
    config = uvicorn.Config(app, http=protocol, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    sock = bind_socket(HOST, 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
            time.sleep(0.01)
        yield sock.getsockname()[1], protocol.registry
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_S)
        sock.close()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=WAIT_S)
    sock.settimeout(WAIT_S)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset), waiting at most WAIT_S."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def get(sock: socket.socket, path: str = "/") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: miner\r\n\r\n".encode())
    answer = b""
    while not answer.endswith(b"ok"):
        chunk = sock.recv(1024)
        assert chunk, f"closed before the answer; got {answer!r}"
        answer += chunk
    return answer


@pytest.fixture
def server() -> Iterator[tuple[int, ConnectionRegistry]]:
    with serving() as running:
        yield running


def test_a_connection_that_sends_nothing_is_closed(server: tuple[int, ConnectionRegistry]) -> None:
    port, registry = server
    with connect(port) as idle:
        assert closed_by_server(idle)
    assert registry.closed_for_slow_head == 1


def test_a_header_trickled_a_byte_at_a_time_is_closed_midway(server: tuple[int, ConnectionRegistry]) -> None:
    port, registry = server
    head = b"GET / HTTP/1.1\r\nHost: miner\r\n" + b"X-Pad: a\r\n" * 100
    sent = 0
    with connect(port) as slow:
        with suppress(BrokenPipeError, ConnectionResetError):
            for byte in head:
                slow.sendall(bytes([byte]))
                sent += 1
                time.sleep(HEAD_TIMEOUT_S / 10)  # bytes keep arriving: a reset-on-data timer never fires
        assert closed_by_server(slow)
    assert sent < len(head)
    assert registry.closed_for_slow_head == 1


def test_a_request_slower_than_the_head_timeout_is_answered_and_the_connection_kept(
    server: tuple[int, ConnectionRegistry],
) -> None:
    port, _ = server
    with connect(port) as client:
        assert get(client, "/slow").startswith(b"HTTP/1.1 200")
        assert get(client, "/").startswith(b"HTTP/1.1 200")  # keep-alive: the next head is on time


def test_past_the_cap_the_longest_idle_connection_makes_room(server: tuple[int, ConnectionRegistry]) -> None:
    port, registry = server
    idle = [connect(port) for _ in range(MAX_CONNECTIONS)]
    try:
        with connect(port) as validator:
            assert get(validator).startswith(b"HTTP/1.1 200")  # never a 503 because peers sit idle
        assert closed_by_server(idle[0])
        assert registry.evicted >= 1
    finally:
        for sock in idle:
            sock.close()


def test_requests_in_progress_are_never_evicted(server: tuple[int, ConnectionRegistry]) -> None:
    port, registry = server
    busy = [connect(port) for _ in range(MAX_CONNECTIONS - 1)]
    try:
        for sock in busy:
            sock.sendall(REQUEST)  # each waits for a slow answer
        deadline = time.monotonic() + WAIT_S
        while (registry.open, len(registry.waiting)) != (len(busy), 0):  # the server has read every head
            assert time.monotonic() < deadline, "the server did not read the requests"
            time.sleep(0.01)
        extra = []
        while len(extra) < 3 and time.monotonic() < deadline:
            extra.append(connect(port))  # each new idle one evicts an idle one, or itself
        answers = [sock.recv(1024) for sock in busy]
        assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
        for sock in extra:
            sock.close()
    finally:
        for sock in busy:
            sock.close()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        guarded_protocol(0, 10)
    with pytest.raises(ValueError):
        guarded_protocol(1.0, 0)
