"""Fixtures the miner's integration modules share, per module: a local chain, a wallets folder, a staked validator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bittensor as bt
import pytest
from ocr_subnet.wallets import local_wallet

from tests.integration.test_miner_integration import register, running_chain


@pytest.fixture(scope="module")
def wallets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wallets")


@pytest.fixture(scope="module")
def chain_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_chain(tmp_path_factory.mktemp("chain")) as url:
        yield url


@pytest.fixture(scope="module")
def validator(wallets_dir: Path, chain_url: str) -> bt.Wallet:
    wallet = local_wallet("validator", wallets_dir=wallets_dir)
    register(chain_url, wallet, stake=1000.0)
    return wallet
