"""The local chain client's mapping of answers to the port's outcomes, and adapter selection."""

from __future__ import annotations

import httpx
import pytest
from ocr_subnet.chain import AdapterKind, adapter_for, connect
from ocr_subnet.chain.local import (
    DEFAULT_LOCAL_URL,
    LocalChainClient,
    Refusal,
    refusal_of,
    weight_set_result,
)
from ocr_subnet.chain.port import ChainPort, ChainRejected, ChainUnavailable, WeightSetOutcome
from ocr_subnet.chain.sdk import SubtensorChain
from ocr_subnet.wallets import local_wallet


@pytest.mark.parametrize(
    ("network", "kind", "address"),
    [
        ("local", AdapterKind.LOCAL, DEFAULT_LOCAL_URL),
        ("http://127.0.0.1:9950/", AdapterKind.LOCAL, "http://127.0.0.1:9950"),
        ("finney", AdapterKind.SDK, "finney"),
        ("test", AdapterKind.SDK, "test"),
        ("ws://127.0.0.1:9944", AdapterKind.SDK, "ws://127.0.0.1:9944"),
        (
            "wss://entrypoint-finney.opentensor.ai:443",
            AdapterKind.SDK,
            "wss://entrypoint-finney.opentensor.ai:443",
        ),
    ],
)
def test_adapter_for(network, kind, address):
    assert adapter_for(network) == (kind, address)


def test_an_unknown_network_is_refused():
    with pytest.raises(ValueError, match="unknown network"):
        adapter_for("mainnet")


def test_connect_builds_the_adapter_without_contacting_anything():
    local = connect("http://127.0.0.1:1", 3, timeout=1.0)
    sdk = connect("ws://127.0.0.1:1", 3)
    try:
        assert isinstance(local, LocalChainClient)
        assert isinstance(sdk, SubtensorChain)
        assert isinstance(local, ChainPort)
        assert isinstance(sdk, ChainPort)
        assert (local.netuid, sdk.netuid) == (3, 3)
    finally:
        local.close()
        sdk.close()


@pytest.mark.parametrize(
    ("status", "body", "outcome", "block"),
    [
        (200, {"block": 42}, WeightSetOutcome.SUCCESS, 42),
        (429, Refusal(code="rate_limited", detail="retry in 3 blocks"), WeightSetOutcome.RATE_LIMITED, None),
        (409, Refusal(code="no_validator_permit", detail="no"), WeightSetOutcome.REJECTED, None),
        (401, Refusal(code="http_401", detail="bad signature"), WeightSetOutcome.REJECTED, None),
        (422, Refusal(code="http_422", detail="[...]"), WeightSetOutcome.REJECTED, None),
        (500, Refusal(code="http_500", detail="boom"), WeightSetOutcome.CHAIN_ERROR, None),
    ],
)
def test_weight_set_result(status, body, outcome, block):
    result = weight_set_result(status, body)

    assert (result.outcome, result.block) == (outcome, block)


def test_a_refusal_the_server_did_not_write_is_still_read():
    response = httpx.Response(502, text="<html>bad gateway</html>")

    assert refusal_of(response) == Refusal(code="http_502", detail="<html>bad gateway</html>")


def _client(handler) -> LocalChainClient:
    return LocalChainClient("http://chain.test", 1, transport=httpx.MockTransport(handler))


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request {request.url}")


def test_weights_that_cannot_be_sent_are_rejected_locally(tmp_path):
    wallet = local_wallet("v", wallets_dir=tmp_path)
    client = _client(_never_called)

    result = client.set_weights(wallet, [1, 2], [1.0, float("nan")], version_key=0)

    assert result.outcome is WeightSetOutcome.REJECTED


def test_an_unservable_endpoint_is_rejected_locally(tmp_path):
    wallet = local_wallet("m", wallets_dir=tmp_path)

    with pytest.raises(ChainRejected):
        _client(_never_called).serve_axon(wallet, "not-an-ip", 8091)


def test_transport_failures_are_chain_unavailable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ChainUnavailable):
        _client(refuse).current_block()


def test_server_errors_are_chain_unavailable_and_refusals_are_rejected():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/metagraph"):
            return httpx.Response(404, json={"code": "http_404", "detail": "this chain serves netuid 2"})
        return httpx.Response(503, text="starting")

    client = _client(answer)
    with pytest.raises(ChainRejected, match="netuid 2"):
        client.metagraph()
    with pytest.raises(ChainUnavailable):
        client.current_block()


def test_a_malformed_metagraph_is_chain_unavailable():
    client = _client(lambda request: httpx.Response(200, json={"netuid": 1, "block": "soon"}))

    with pytest.raises(ChainUnavailable, match="malformed"):
        client.metagraph()
