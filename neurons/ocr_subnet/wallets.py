"""Local development wallets: created on demand, unencrypted, kept out of `~/.bittensor`.

Neurons on the local chain need a coldkey (its public address is the owner in the metagraph) and
a hotkey (it signs requests and weights). Creating them must never prompt, so the keys are written
without a password, and they live under `./.local/wallets` (or `$OCR_SUBNET_WALLETS`) so a
developer's real wallets are never touched unless a caller explicitly asks for them.
"""

from __future__ import annotations

import os
from pathlib import Path

import bittensor as bt

WALLETS_ENV = "OCR_SUBNET_WALLETS"
DEFAULT_WALLETS_DIR = Path(".local") / "wallets"
USER_WALLETS_DIR = Path.home() / ".bittensor"


class WalletLocationRefused(ValueError):
    """The wallets folder is inside the user's real `~/.bittensor` and nobody asked for that."""


def default_wallets_dir() -> Path:
    """`$OCR_SUBNET_WALLETS` when set, else `./.local/wallets` under the current directory."""
    return Path(os.environ.get(WALLETS_ENV) or DEFAULT_WALLETS_DIR).expanduser().resolve()


def is_user_wallets_dir(path: Path) -> bool:
    resolved = path.expanduser().resolve()
    user = USER_WALLETS_DIR.resolve()
    return resolved == user or user in resolved.parents


def local_wallet(
    name: str,
    hotkey: str = "default",
    wallets_dir: Path | str | None = None,
    *,
    allow_user_wallets: bool = False,
) -> bt.Wallet:
    """Open the wallet `name`/`hotkey`, creating whichever keys are missing; safe to call again.

    Keys are unencrypted: this is for local chains and tests, where nobody is there to type a
    password and nothing of value is held.
    """
    root = Path(wallets_dir).expanduser().resolve() if wallets_dir is not None else default_wallets_dir()
    if is_user_wallets_dir(root) and not allow_user_wallets:
        raise WalletLocationRefused(
            f"{root} is inside {USER_WALLETS_DIR}; pass allow_user_wallets=True to use real wallets"
        )
    wallet = bt.Wallet(name=name, hotkey=hotkey, path=str(root))
    _ensure_coldkey(wallet)
    _ensure_hotkey(wallet)
    return wallet


def _ensure_coldkey(wallet: bt.Wallet) -> None:
    if wallet.coldkeypub_file.exists_on_device():
        return
    if wallet.coldkey_file.exists_on_device():
        wallet.regenerate_coldkeypub(ss58_address=wallet.coldkey.ss58_address)
        return
    try:
        wallet.create_new_coldkey(use_password=False, suppress=True)
    except FileExistsError:  # another process created it between our check and our write
        return


def _ensure_hotkey(wallet: bt.Wallet) -> None:
    if wallet.hotkey_file.exists_on_device():
        if not wallet.hotkeypub_file.exists_on_device():
            wallet.regenerate_hotkeypub(ss58_address=wallet.hotkey.ss58_address)
        return
    try:
        wallet.create_new_hotkey(use_password=False, suppress=True)
    except FileExistsError:  # another process created it between our check and our write
        return
