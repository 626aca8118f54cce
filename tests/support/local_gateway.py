"""`ocr-subnet local up --gateway` with two tesseract miners, as the gateway's tests and benchmark start it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import IO

from ocr_subnet.local.up import ocr_subnet_command


def start_local_gateway(home: Path, *extra: str, output: int | IO[bytes] | None = subprocess.PIPE) -> subprocess.Popen:
    """The local subnet plus its gateway under `home`; `extra` goes to `local up`, stdout and stderr to `output`."""
    command = [*ocr_subnet_command(), "local", "up", "--gateway", "--miners", "2", "--backend", "tesseract"]
    return subprocess.Popen(
        [*command, "--home", str(home), *extra], stdout=output, stderr=output, text=output == subprocess.PIPE, cwd=home
    )


def chain_url_of(run_dir: Path) -> str:
    """From the chain process's command line (local up records its pid in processes.json)."""
    pid = json.loads((run_dir / "processes.json").read_text())["chain"]["pid"]
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"
