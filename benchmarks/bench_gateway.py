"""The organic gateway on the local subnet against the same miners called directly, in one run.

Starts `ocr-subnet local up --gateway` (tesseract miners), plus a second gateway on the same subnet
with canaries off and no hedging, then sends the same scan-like pages of a Debian manual:

* direct: each page signed (btauth/1, the validator's hotkey) straight to one miner, round-robin;
* gateway: each page as its own `POST /v1/ocr` (canary stitched, hedged to 2 miners, verified);
* bare gateway: the same without canary or hedge (what the gateway's HTTP and PDF work alone cost);
* document: the whole document as one request through the gateway (pages/s).

Pages run `--concurrency` at once in every mode. The ratios to direct are the overhead.

    python benchmarks/bench_gateway.py --pages 20 [--json]
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import typer
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.gateway.canary import encode_like_challenge
from ocr_subnet.local.up import VALIDATOR_WALLET, ocr_subnet_command
from ocr_subnet.protocol import OcrRequest, encode_image
from ocr_subnet.validator.query import Outcome, new_client, query_miner
from ocr_subnet.wallets import local_wallet
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the scan-like document and polling live with the tests

from tests.support.documents import scan_like_pdf, scan_pages  # noqa: E402
from tests.support.local_gateway import chain_url_of, start_local_gateway  # noqa: E402
from tests.support.poll import wait_until  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

FIRST_PAGE = 2  # the manual's body text starts here
DEADLINE_S = 120.0
STARTUP_S = 300.0


@dataclass(frozen=True)
class Result:
    mode: str
    pages: int
    pages_per_s: float
    p50_s: float
    p99_s: float


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def timed(pages: int, concurrency: int, one: Callable[[int], Awaitable[None]], mode: str) -> Result:
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def run(index: int) -> None:
        async with slots:
            started = time.perf_counter()
            await one(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(pages)))
    elapsed = time.perf_counter() - started
    return Result(mode, pages, pages / elapsed, percentile(latencies, 50), percentile(latencies, 99))


def start_bare_gateway(run_dir: Path, home: Path, chain_url: str, keys: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        *ocr_subnet_command(),
        *("gateway", "serve", "--network", chain_url, "--wallet-path", str(home / "wallets")),
        *("--wallet-name", VALIDATOR_WALLET, "--port", str(port), "--api-keys", str(keys)),
        *("--no-canaries", "--hedge", "1", "--allowed-axon-network", "127.0.0.0/8", "--deadline", str(DEADLINE_S)),
    ]
    with (run_dir / "logs" / "bare-gateway.log").open("wb") as log:
        process = subprocess.Popen(command, stderr=log)
    return process, f"http://127.0.0.1:{port}"


async def measure(
    pages: int, concurrency: int, url: str, key: str, bare_url: str, home: Path, chain: str
) -> list[Result]:
    images = scan_pages(range(FIRST_PAGE, FIRST_PAGE + pages))
    singles = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="PDF", resolution=150)
        singles.append(buffer.getvalue())
    document = scan_like_pdf(range(FIRST_PAGE, FIRST_PAGE + pages))
    wallet = local_wallet(VALIDATOR_WALLET, "default", home / "wallets")
    client = LocalChainClient(chain, 1)
    try:
        miners = [
            n for n in client.metagraph().neurons if n.axon is not None and n.hotkey != wallet.hotkey.ss58_address
        ]
    finally:
        client.close()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/pdf"}
    encoded = [encode_image(encode_like_challenge(image, 1)) for image in images]  # as the gateway sends them
    bodies = [OcrRequest(image=image, deadline_s=DEADLINE_S).model_dump_json().encode() for image in encoded]
    async with new_client(64) as miner_client, httpx.AsyncClient(timeout=DEADLINE_S * 4, trust_env=False) as http:

        async def direct(index: int) -> None:
            result = await query_miner(miner_client, wallet, miners[index % len(miners)], bodies[index], DEADLINE_S)
            assert result.outcome == Outcome.OK, result

        def through(base: str) -> Callable[[int], Awaitable[None]]:
            async def one(index: int) -> None:
                response = await http.post(f"{base}/v1/ocr", headers=headers, content=singles[index])
                assert response.status_code == 200, response.text

            return one

        async def whole(_index: int) -> None:
            response = await http.post(f"{url}/v1/ocr", headers=headers, content=document)
            assert response.status_code == 200, response.text
            assert len(response.json()["pages"]) == pages

        results = [
            await timed(pages, concurrency, direct, "direct to miners"),
            await timed(pages, concurrency, through(bare_url), "gateway, no canary, no hedge"),
            await timed(pages, concurrency, through(url), "gateway (canary + hedge 2)"),
        ]
        document_run = await timed(1, 1, whole, "gateway, one document")
        results.append(
            Result(document_run.mode, pages, pages / document_run.p50_s, document_run.p50_s, document_run.p99_s)
        )
        return results


def main(
    pages: int = typer.Option(20, min=2, max=30, help="pages of the document"),
    concurrency: int = typer.Option(4, min=1, help="pages in flight in every mode (the gateway's own default)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Pages/s and p50/p99 per page through the gateway vs the miners called directly, same run."""
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        home = Path(folder)
        launcher = start_local_gateway(
            home, "--round-interval", "30", "--deadline", str(DEADLINE_S), output=subprocess.DEVNULL
        )
        bare = None
        try:
            (path,) = wait_until(lambda: list((home / "runs").glob("*/gateway.json")), "gateway.json", STARTUP_S)
            contract = json.loads(path.read_text())
            run_dir = path.parent
            chain = chain_url_of(run_dir)
            bare, bare_url = start_bare_gateway(run_dir, home, chain, run_dir / "gateway" / "keys.json")
            wait_until(lambda: _healthy(bare_url), "the bare gateway", STARTUP_S)
            results = asyncio.run(
                measure(pages, concurrency, contract["url"], contract["api_key"], bare_url, home, chain)
            )
        finally:
            if bare is not None:
                bare.terminate()
                bare.wait()
            launcher.terminate()
            launcher.wait()
    base = results[0]
    ratios = {
        r.mode: {"pages_per_s": r.pages_per_s / base.pages_per_s, "p50": r.p50_s / base.p50_s} for r in results[1:-1]
    }
    ratios[results[-1].mode] = {"pages_per_s": results[-1].pages_per_s / base.pages_per_s}  # p50: the whole document
    if as_json:
        typer.echo(json.dumps({"results": [asdict(r) for r in results], "vs_direct": ratios}, indent=2))
        return
    table = Table(title=f"{pages} scan-like pages of a Debian manual, 2 tesseract miners, {concurrency} in flight")
    for column in ("mode", "pages/s", "p50 s", "p99 s", "pages/s vs direct", "p50 vs direct"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in results:
        ratio = ratios.get(r.mode)
        table.add_row(
            r.mode,
            f"{r.pages_per_s:.2f}",
            f"{r.p50_s:.2f}",
            f"{r.p99_s:.2f}",
            f"{ratio['pages_per_s']:.2f}" if ratio else "",
            f"{ratio['p50']:.2f}" if ratio and "p50" in ratio else "",
        )
    Console().print(table)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    typer.run(main)
