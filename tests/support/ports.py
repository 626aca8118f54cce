"""Loopback ports for servers the tests start, chosen below the kernel's ephemeral range.

A port the OS hands out with bind(0) comes from the ephemeral range, which outgoing connections (the
apiserver to etcd, clients to the apiserver) draw from too; between choosing and binding, one of them
can take it. Ports below that range are only ever taken by explicit binds. A port handed out is not handed
out again by this process for a while: a test often chooses a port, then starts a server that chooses its
own, and neither is bound until the server binds both.
"""

from __future__ import annotations

import random
import socket
from collections import deque
from pathlib import Path

LOW = 20000
RECENT = 2048  # ports handed out that are not handed out again: far more than any one test holds at once

_handed: deque[int] = deque(maxlen=RECENT)


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports on `host` that nobody listens on now and no outgoing connection will take."""
    high = max(_ephemeral_start() - 1, LOW + 1000)
    ports: list[int] = []
    for _ in range(200 * count):
        port = random.randint(LOW, high)
        if port in _handed or port in ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            _handed.extend(ports)
            return ports
    raise RuntimeError(f"no {count} free ports on {host} in {LOW}-{high}")


def free_port(host: str = "127.0.0.1") -> int:
    """One port as `free_ports` chooses them."""
    return free_ports(1, host)[0]
