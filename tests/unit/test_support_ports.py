"""The tests' port chooser: below the ephemeral range, and never the same port twice in a row of calls."""

from __future__ import annotations

from tests.support.ports import LOW, _ephemeral_start, free_ports


def test_ports_handed_out_are_not_handed_out_again_before_anyone_binds_them() -> None:
    chosen = [port for _ in range(300) for port in free_ports(3)]
    assert len(set(chosen)) == len(chosen)
    assert all(LOW <= port < _ephemeral_start() for port in chosen)
