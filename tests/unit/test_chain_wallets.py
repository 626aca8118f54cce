"""Local development wallets: created once, unencrypted, never in the user's ~/.bittensor."""

from __future__ import annotations

import pytest
from ocr_subnet import wallets
from ocr_subnet.wallets import WalletLocationRefused, default_wallets_dir, local_wallet


def test_a_wallet_is_created_unencrypted_and_reopened_unchanged(tmp_path):
    first = local_wallet("validator", wallets_dir=tmp_path)
    again = local_wallet("validator", wallets_dir=tmp_path)

    assert again.hotkey.ss58_address == first.hotkey.ss58_address
    assert again.coldkeypub.ss58_address == first.coldkeypub.ss58_address
    assert not first.hotkey_file.is_encrypted()
    assert not first.coldkey_file.is_encrypted()
    assert first.path == str(tmp_path)


def test_hotkeys_of_one_wallet_share_its_coldkey(tmp_path):
    a = local_wallet("miners", "a", tmp_path)
    b = local_wallet("miners", "b", tmp_path)

    assert a.coldkeypub.ss58_address == b.coldkeypub.ss58_address
    assert a.hotkey.ss58_address != b.hotkey.ss58_address


def test_a_lost_public_key_file_is_restored_from_the_key(tmp_path):
    wallet = local_wallet("validator", wallets_dir=tmp_path)
    hotkey = wallet.hotkey.ss58_address
    coldkey = wallet.coldkeypub.ss58_address
    (tmp_path / "validator" / "coldkeypub.txt").unlink()
    (tmp_path / "validator" / "hotkeys" / "defaultpub.txt").unlink()

    restored = local_wallet("validator", wallets_dir=tmp_path)

    assert restored.coldkeypub.ss58_address == coldkey
    assert restored.hotkeypub.ss58_address == hotkey


def test_the_default_folder_is_local_or_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(wallets.WALLETS_ENV, raising=False)
    assert default_wallets_dir() == tmp_path / ".local" / "wallets"

    monkeypatch.setenv(wallets.WALLETS_ENV, str(tmp_path / "elsewhere"))
    assert default_wallets_dir() == tmp_path / "elsewhere"


def test_the_users_real_wallets_are_refused_unless_asked(tmp_path, monkeypatch):
    home = tmp_path / "home" / ".bittensor"
    monkeypatch.setattr(wallets, "USER_WALLETS_DIR", home)

    with pytest.raises(WalletLocationRefused):
        local_wallet("validator", wallets_dir=home / "wallets")
    assert not (home / "wallets").exists()

    wallet = local_wallet("validator", wallets_dir=home / "wallets", allow_user_wallets=True)
    assert wallet.hotkey_file.exists_on_device()
