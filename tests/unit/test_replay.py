"""Replay protection across a restart: the nonce store refuses what an earlier run may have accepted."""

from __future__ import annotations

import bittensor as bt
import pytest
from bittensor.keyfiles import Keypair
from ocr_subnet.replay import StartBoundNonceStore

SECOND = 10**9
SENDER = Keypair.create_from_uri("//Validator")
RECEIVER = Keypair.create_from_uri("//Miner").ss58_address


def verify(headers: dict[str, str], store: StartBoundNonceStore, now_ns: int) -> bt.http_auth.Caller:
    return bt.http_auth.verify(
        headers, b"{}", method="POST", path="/ocr", self_hotkey_ss58=RECEIVER, nonce_store=store, now_ns=now_ns
    )


def signed(nonce_ns: int) -> dict[str, str]:
    return bt.http_auth.sign(SENDER, method="POST", path="/ocr", body=b"{}", receiver_ss58=RECEIVER, nonce_ns=nonce_ns)


def test_a_request_accepted_before_a_restart_is_refused_after_it() -> None:
    t0 = 1_000 * SECOND
    first_run = StartBoundNonceStore(10.0, 2.0, now_ns=lambda: t0)
    # The latest nonce the first run can accept: signed by a client whose clock runs the whole skew ahead.
    captured = signed(t0 + 20 * SECOND)
    assert verify(captured, first_run, now_ns=t0 + 18 * SECOND).hotkey_ss58 == SENDER.ss58_address
    with pytest.raises(bt.http_auth.ReplayedRequest):
        verify(captured, first_run, now_ns=t0 + 18 * SECOND)

    restarted = StartBoundNonceStore(10.0, 2.0, now_ns=lambda: t0 + 18 * SECOND)  # a restart in no time at all
    with pytest.raises(bt.http_auth.StaleRequest, match="signed before this server started"):
        verify(captured, restarted, now_ns=t0 + 18 * SECOND + 1)
    fresh = signed(t0 + 21 * SECOND)
    assert verify(fresh, restarted, now_ns=t0 + 21 * SECOND).nonce_ns == t0 + 21 * SECOND


def test_the_store_keeps_entries_for_the_whole_freshness_window() -> None:
    store = StartBoundNonceStore(10.0, 2.0, now_ns=lambda: 0)
    assert store.retention >= 12.0
