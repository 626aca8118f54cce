"""The OCR model through Triton: latency per page, pages/s under concurrency and batching, memory.

Rows measured in one run, on the same generated invoices (difficulty 1):
  tesseract      the reference miner's engine, called directly (baseline)
  in-process     our pipeline called directly, no Triton (baseline: what serving costs)
  triton         our pipeline through `ocr-subnet triton serve` over gRPC: one page per request
                 with N requests in flight (Triton's dynamic batcher forms the batches), and
                 B pages per request with one in flight
  miner+triton   signed /ocr requests through a real `ocr-subnet miner --backend triton`
then, per document family and density (1 px/pt, 150 and 300 dpi; clean renders of the generator's pages),
p50 and p99 per page through Triton and for tesseract on the same pages, ms per megapixel and the ratio to
tesseract's (no family may fall off a latency cliff); and the resident memory of the Triton server (its
process tree: serve + tritonserver + backend stub, after the invoices and again after the families' large
pages) and of the miner; then (`--rss-rounds`) the tree's RSS after each round of whole batches of 300-dpi
pages (MAX_BATCH_SIZE at once), to show where it levels off. Ratios compare each row with in-process at the
same concurrency/batch.

    python benchmarks/bench_triton.py                       # this CPU: concurrency and batch 1, 2, 4, 8
    python benchmarks/bench_triton.py --device cuda         # a GPU: batch 1..64, p99 (repository built
                                                            # with KIND_GPU and max_batch_size 64)
    python benchmarks/bench_triton.py --json
    python benchmarks/bench_triton.py --family-pages 0      # skip the per-family rows

Without packaged weights, pass `--model-repo` (from `ocr-subnet triton repo build`).
"""

from __future__ import annotations

import io
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import bittensor as bt
import httpx
import numpy as np
import typer
from bench_miner import measure
from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.backends.triton import TritonBackend
from ocr_subnet.chain.local import HEALTH_PATH as CHAIN_HEALTH_PATH
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.challenge.families import FAMILIES
from ocr_subnet.challenge.generate import generate_challenge, render_page
from ocr_subnet.challenge.levels import POINTS_PER_INCH
from ocr_subnet.local.procs import Child, free_port, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.logs import configure_logging
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.protocol import HEALTH_PATH, OCR_PATH, decode_image, encode_image
from ocr_subnet.triton import LOOPBACK, MAX_BATCH_SIZE, PIPELINE
from ocr_subnet.triton.embedded import EmbeddedTriton
from ocr_subnet.triton.repository import (
    InstanceKind,
    Repository,
    ServingConfig,
    build_repository,
    open_repository,
    packaged_weights_dir,
    packaged_weights_exist,
)
from ocr_subnet.triton.server import load_pipelines
from ocr_subnet.wallets import local_wallet
from PIL import Image
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

DEADLINE_S = 120.0
CPU_LEVELS = [1, 2, 4, 8]
GPU_BATCHES = [1, 2, 4, 8, 16, 32, 64]
FAMILY_DENSITIES = (1.0, 150 / POINTS_PER_INCH, 300 / POINTS_PER_INCH)  # px per point
FAMILY_SEED = 7_000  # family pages use seeds from here, apart from the invoices above
GPU_CONFIG = ServingConfig(
    max_batch_size=64, preferred_batch_sizes=(16, 32, 64), max_queue_delay_us=1_000, instance_kind=InstanceKind.GPU
)


@dataclass(frozen=True)
class Row:
    mode: str
    concurrency: int  # requests in flight
    batch: int  # pages per request
    requests: int
    pages_per_s: float
    p50_s: float  # per request
    p95_s: float
    p99_s: float


@dataclass(frozen=True)
class FamilyRow:
    family: str
    dpi: int
    engine: str  # triton (one page per request, one in flight) | tesseract (called directly)
    pages: int
    megapixels: float  # per page, mean
    p50_s: float  # per page
    p99_s: float
    ms_per_megapixel: float  # p50 over the mean page's megapixels


def family_row(
    family: str, px_per_pt: float, engine: str, pages: Sequence[np.ndarray], latencies: Sequence[float]
) -> FamilyRow:
    megapixels = statistics.fmean(page.size for page in pages) / 1e6
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    dpi = round(px_per_pt * POINTS_PER_INCH)
    return FamilyRow(family, dpi, engine, len(latencies), megapixels, cuts[49], cuts[98], cuts[49] * 1e3 / megapixels)


def family_ratios(rows: Sequence[FamilyRow]) -> list[dict[str, object]]:
    """Triton's p50 and p99 per page over tesseract's on the same pages: below 1 is faster."""
    tesseract = {(r.family, r.dpi): r for r in rows if r.engine == "tesseract"}
    return [
        {"family": r.family, "dpi": r.dpi, "p50_ratio": r.p50_s / base.p50_s, "p99_ratio": r.p99_s / base.p99_s}
        for r in rows
        if r.engine == "triton" and (base := tesseract.get((r.family, r.dpi))) is not None
    ]


def summarize(mode: str, concurrency: int, batch: int, latencies: Sequence[float], wall_s: float) -> Row:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    pages = len(latencies) * batch
    return Row(mode, concurrency, batch, len(latencies), pages / wall_s, cuts[49], cuts[94], cuts[98])


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants (shared pages count once per process)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, frontier = {pid}, [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier and child not in family]
        family.update(children)
        frontier = children
    return sum(_rss_kib(member) for member in family) / 1024


def _rss_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)


def batches(pages: Sequence[np.ndarray], size: int) -> Callable[[int], list[np.ndarray]]:
    """Request i's pages: `size` consecutive pages, cycling through the distinct ones."""
    return lambda index: [pages[(index * size + k) % len(pages)] for k in range(size)]


@contextmanager
def repository_for(model_repo: Path | None, device: str) -> Iterator[Repository]:
    if model_repo is not None:
        yield open_repository(model_repo)
        return
    config = GPU_CONFIG if device == "cuda" else ServingConfig(instance_kind=InstanceKind.CPU)
    with tempfile.TemporaryDirectory(prefix="bench-triton-") as folder:
        yield build_repository(packaged_weights_dir(), Path(folder) / "repository", config)


@contextmanager
def miner_in_front_of(triton_url: str, folder: Path) -> Iterator[tuple[Child, str, bt.Wallet, str]]:
    """A local chain and a real `ocr-subnet miner --backend triton`: (miner process, /ocr URL, a
    permitted validator wallet, the miner's hotkey)."""
    wallets = folder / "wallets"
    chain_port, miner_port = free_port(LOOPBACK), free_port(LOOPBACK)
    chain_url = f"http://{LOOPBACK}:{chain_port}"
    children = [
        spawn(
            "chain",
            [
                *(*ocr_subnet_command(), "chain", "serve", "--host", LOOPBACK, "--port", str(chain_port)),
                *("--state", str(folder / "chain.json")),
            ],
            folder / "chain.log",
        )
    ]
    try:
        wait_healthy(chain_url + CHAIN_HEALTH_PATH, 60.0, children[0])
        validator = local_wallet("bench-validator", wallets_dir=wallets)
        miner = local_wallet("bench-miner", wallets_dir=wallets)
        client = LocalChainClient(chain_url, 1)
        client.register(validator, 1000.0)
        client.register(miner, 0.0)
        client.close()
        argv = [
            *ocr_subnet_command(),
            *("miner", "--network", chain_url, "--wallet-path", str(wallets), "--wallet-name", "bench-miner"),
            *("--host", LOOPBACK, "--port", str(miner_port), "--backend", "triton", "--triton-url", triton_url),
            *("--max-concurrency", "16", "--log-level", "WARNING"),
        ]
        children.append(spawn("miner", argv, folder / "miner.log"))
        wait_healthy(f"http://{LOOPBACK}:{miner_port}{HEALTH_PATH}", 120.0, children[1])
        time.sleep(MinerConfig().auth_allowed_skew_s)  # the miner refuses what was signed that soon after its start
        yield children[1], f"http://{LOOPBACK}:{miner_port}{OCR_PATH}", validator, miner.hotkey.ss58_address
    finally:
        stop_all(children, 15.0)


def run(
    model_repo: Path | None,
    device: str,
    distinct_pages: int,
    requests: int,
    concurrency_levels: Sequence[int],
    batch_sizes: Sequence[int],
    with_tesseract: bool,
    with_miner: bool,
    pipeline_spec: str,
    family_pages: int = 0,
    rss_rounds: int = 0,
) -> tuple[list[Row], list[FamilyRow], dict[str, float]]:
    images = [decode_image(encode_image(generate_challenge(seed, 1).image)) for seed in range(distinct_pages)]
    pages = [np.asarray(image.convert("L")) for image in images]
    rows: list[Row] = []
    family_rows: list[FamilyRow] = []
    memory: dict[str, float] = {}
    extra_batches = [size for size in batch_sizes if size != 1 or 1 not in concurrency_levels]  # 1x1 once
    cells = len(FAMILIES) * len(FAMILY_DENSITIES) if family_pages else 0
    plan = len(concurrency_levels) * 2 + len(extra_batches) * 2 + with_tesseract + with_miner + cells + rss_rounds
    with ExitStack() as stack, Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("benchmark", total=plan)

        def record(mode: str, concurrency: int, batch: int, call: Callable[[int], object]) -> None:
            progress.update(task, description=f"{mode} c={concurrency} b={batch}")
            rows.append(summarize(mode, concurrency, batch, *measure(call, requests, concurrency)))
            progress.advance(task)

        tesseract = TesseractBackend() if with_tesseract else None
        if tesseract is not None:
            record("tesseract", 1, 1, lambda i: tesseract.recognize(images[i % len(images)]))
        repository = stack.enter_context(repository_for(model_repo, device))
        pipeline = load_pipelines(repository, pipeline_spec)[1][0]
        for concurrency in concurrency_levels:
            record("in-process", concurrency, 1, lambda i: pipeline(batches(pages, 1)(i)))
        for size in extra_batches:
            record("in-process", 1, size, lambda i, size=size: pipeline(batches(pages, size)(i)))

        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-triton-run-")))
        server = EmbeddedTriton.start(repository.path, log_path=folder / "triton.log", extra_args=_extra(pipeline_spec))
        stack.callback(server.stop)
        backend = TritonBackend(server.grpc_url, timeout_s=DEADLINE_S)
        stack.callback(backend.close)
        for concurrency in concurrency_levels:
            record("triton", concurrency, 1, lambda i: backend.recognize_pages(batches(pages, 1)(i)))
        for size in extra_batches:
            record("triton", 1, size, lambda i, size=size: backend.recognize_pages(batches(pages, size)(i)))
        memory["triton_server_rss_mib"] = tree_rss_mib(server.child.process.pid)
        for family in FAMILIES if family_pages else ():
            for px_per_pt in FAMILY_DENSITIES:
                progress.update(task, description=f"{family} at {px_per_pt * POINTS_PER_INCH:.0f} dpi")
                drawn = [render_page(FAMILY_SEED + k, family, px_per_pt).raster for k in range(family_pages)]
                timed = measure(lambda i, drawn=drawn: backend.recognize_pages([drawn[i]]), len(drawn), 1)[0]
                family_rows.append(family_row(family, px_per_pt, "triton", drawn, timed))
                if tesseract is not None:
                    images_ = [Image.fromarray(page) for page in drawn]
                    timed = measure(lambda i, images_=images_: tesseract.recognize(images_[i]), len(drawn), 1)[0]
                    family_rows.append(family_row(family, px_per_pt, "tesseract", drawn, timed))
                progress.advance(task)
        memory["triton_server_peak_rss_mib"] = tree_rss_mib(server.child.process.pid)
        if rss_rounds:
            large = [render_page(FAMILY_SEED + k, FAMILIES[k % len(FAMILIES)], 300 / POINTS_PER_INCH).raster
                     for k in range(MAX_BATCH_SIZE)]  # fmt: skip
            for round_ in range(rss_rounds):
                progress.update(task, description=f"RSS round {round_ + 1}: {MAX_BATCH_SIZE} 300-dpi pages at once")
                measure(lambda i: backend.recognize_pages([large[i]]), MAX_BATCH_SIZE, MAX_BATCH_SIZE)
                memory[f"triton_server_rss_mib_round_{round_ + 1}"] = tree_rss_mib(server.child.process.pid)
                progress.advance(task)

        if with_miner:
            child, url, validator, hotkey = stack.enter_context(miner_in_front_of(server.grpc_url, folder))
            bodies = [json.dumps({"image": encode_image(_jpeg(i)), "deadline_s": DEADLINE_S}).encode() for i in images]
            client = stack.enter_context(httpx.Client(timeout=DEADLINE_S + 10))

            def through_miner(index: int) -> None:
                body = bodies[index % len(bodies)]
                headers = bt.http_auth.sign(validator, method="POST", path=OCR_PATH, body=body, receiver_ss58=hotkey)
                response = client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"the miner answered {response.status_code}: {response.text[:500]}")

            record("miner+triton", 1, 1, through_miner)
            memory["miner_rss_mib"] = tree_rss_mib(child.process.pid)
    return rows, family_rows, memory


def _extra(spec: str) -> list[str]:
    return [] if spec == PIPELINE else ["--pipeline", spec]


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def ratios(rows: Sequence[Row]) -> list[dict[str, object]]:
    """Each served row over in-process at the same concurrency and batch: pages/s (below 1 is what
    serving costs) and p50 latency; tesseract's p50 over in-process batch 1."""
    baseline = {(r.concurrency, r.batch): r for r in rows if r.mode == "in-process"}
    out = []
    for row in rows:
        base = baseline.get((row.concurrency, row.batch))
        if row.mode == "in-process" or base is None:
            continue
        out.append(
            {
                "mode": row.mode,
                "concurrency": row.concurrency,
                "batch": row.batch,
                "pages_per_s_ratio": row.pages_per_s / base.pages_per_s,
                "p50_ratio": row.p50_s / base.p50_s,
            }
        )
    return out


def main(
    model_repo: Path | None = typer.Option(None, help="model repository; unset builds one from the packaged weights"),
    device: str = typer.Option("cpu", help="cpu | cuda (cuda: KIND_GPU, max batch 64, batches 1..64)"),
    pages: int = typer.Option(8, min=1, max=64, help="distinct generated invoices, cycled through"),
    requests: int = typer.Option(16, min=2, max=2000, help="timed requests per row"),
    concurrency: list[int] | None = typer.Option(None, min=1, max=256, help="requests in flight; repeat"),
    batch: list[int] | None = typer.Option(None, min=1, max=1024, help="pages per request; repeat"),
    tesseract: bool = typer.Option(True, help="include the tesseract baseline"),
    miner: bool = typer.Option(True, help="include a real miner in front of Triton, and its memory"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    pipeline: str = typer.Option(PIPELINE, hidden=True, help="module:Class of the OCR pipeline"),
    family_pages: int = typer.Option(6, min=0, max=64, help="pages per family and density; 0 skips those rows"),
    rss_rounds: int = typer.Option(0, min=0, max=100, help="rounds of whole batches of 300-dpi pages, RSS after each"),
) -> None:
    """Measure Triton serving against the pipeline in-process and tesseract, in one run."""
    if device not in ("cpu", "cuda"):
        raise typer.BadParameter("--device must be cpu or cuda")
    if model_repo is None and not packaged_weights_exist():
        typer.echo("bench_triton: skipped, no packaged model weights yet (pass --model-repo)", err=True)
        return
    configure_logging(logging.WARNING)
    levels = sorted(set(concurrency or CPU_LEVELS))
    sizes = sorted(set(batch or (GPU_BATCHES if device == "cuda" else CPU_LEVELS)))
    started = time.perf_counter()
    rows, family_rows, memory = run(
        model_repo, device, pages, requests, levels, sizes, tesseract, miner, pipeline, family_pages, rss_rounds
    )
    report = {
        "device": device,
        "requests_per_row": requests,
        "rows": [asdict(r) for r in rows],
        "over_in_process": ratios(rows),
        "families": [asdict(r) for r in family_rows],
        "families_over_tesseract": family_ratios(family_rows),
        "memory": memory,
        "wall_s": time.perf_counter() - started,
    }
    if as_json:
        typer.echo(json.dumps(report))
        return
    table = Table(title=f"OCR model on {device}: {requests} requests per row, latency per request")
    for column in ("mode", "in flight", "pages/req", "pages/s", "p50 s", "p95 s", "p99 s", "÷ in-process"):
        table.add_column(column, justify="left" if column == "mode" else "right", no_wrap=True)
    by_key = {(r["mode"], r["concurrency"], r["batch"]): r["pages_per_s_ratio"] for r in report["over_in_process"]}
    for r in rows:
        ratio = by_key.get((r.mode, r.concurrency, r.batch))
        table.add_row(
            r.mode, str(r.concurrency), str(r.batch), f"{r.pages_per_s:.2f}",
            f"{r.p50_s:.3f}", f"{r.p95_s:.3f}", f"{r.p99_s:.3f}", "" if ratio is None else f"{ratio:.2f}",
        )  # fmt: skip
    console = Console(width=max(Console().width, 100))
    console.print(table)
    if family_rows:
        console.print(family_table(family_rows))
    console.print(", ".join(f"{name} {value:.0f}" for name, value in memory.items()))


def family_table(rows: Sequence[FamilyRow]) -> Table:
    over = {(r["family"], r["dpi"]): r for r in family_ratios(rows)}
    table = Table(title="Per family and density: seconds per page (clean renders, one page per request)")
    for column in ("family", "dpi", "engine", "MP", "p50 s", "p99 s", "ms/MP", "p50 ÷ tess", "p99 ÷ tess"):
        table.add_column(column, justify="left" if column in ("family", "engine") else "right", no_wrap=True)
    for r in rows:
        ratio = over.get((r.family, r.dpi)) if r.engine == "triton" else None
        table.add_row(
            r.family, str(r.dpi), r.engine, f"{r.megapixels:.1f}", f"{r.p50_s:.3f}", f"{r.p99_s:.3f}",
            f"{r.ms_per_megapixel:.0f}", "" if ratio is None else f"{ratio['p50_ratio']:.2f}",
            "" if ratio is None else f"{ratio['p99_ratio']:.2f}",
        )  # fmt: skip
    return table


if __name__ == "__main__":
    typer.run(main)
