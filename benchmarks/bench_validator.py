"""Validator round time on loopback with tesseract miners, concurrent queries vs one at a time.

A round is what the validator does between two sleeps: read the metagraph, generate a challenge,
send it signed to every sampled miner, score the answers. Real processes: the local chain and N
`ocr-subnet miner --backend tesseract` processes, started as `ocr-subnet local up` starts them;
the validator runs in this process. The baseline is the same round with the miners queried one
after another (what a loop of blocking calls gives); rounds of both modes alternate so drift in
machine load hits both alike.

    python benchmarks/bench_validator.py --miners 3 --rounds 4 [--json]
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import bittensor as bt
import httpx
import typer
from ocr_subnet.addresses import parse_networks
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.chain.port import NeuronInfo
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.local.up import LocalSubnet, UpConfig, new_run_dir
from ocr_subnet.logs import configure_logging
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.validator.metrics import ValidatorMetrics
from ocr_subnet.validator.neuron import PHASES, QueryStrategy, Validator, ValidatorConfig, reward_parts
from ocr_subnet.validator.query import Outcome, QueryResult, query_miner, query_miners
from rich.console import Console
from rich.table import Table

DEADLINE_S = 120.0  # generous: the benchmark measures time, it must not cut answers off


async def query_one_by_one(
    client: httpx.AsyncClient,
    wallet: bt.WalletLike,
    miners: Sequence[NeuronInfo],
    bodies: Sequence[bytes],
    deadline_s: float,
) -> list[QueryResult]:
    """The baseline: each miner is asked only after the previous one answered."""
    return [
        await query_miner(client, wallet, miner, body, deadline_s) for miner, body in zip(miners, bodies, strict=True)
    ]


MODES: dict[str, QueryStrategy] = {"concurrent": query_miners, "sequential": query_one_by_one}


@dataclass(frozen=True)
class ModeResult:
    mode: str
    rounds: int
    round_p50_s: float
    round_mean_s: float
    phases_p50_s: dict[str, float]
    answers_ok: int
    answers: int


def summarize(mode: str, reports: Sequence[tuple[float, dict[str, float], list[QueryResult]]]) -> ModeResult:
    durations = [duration for duration, _, _ in reports]
    results = [r for _, _, round_results in reports for r in round_results]
    return ModeResult(
        mode=mode,
        rounds=len(reports),
        round_p50_s=statistics.median(durations),
        round_mean_s=statistics.fmean(durations),
        phases_p50_s={phase: statistics.median(p[phase] for _, p, _ in reports) for phase in PHASES},
        answers_ok=sum(r.outcome is Outcome.OK for r in results),
        answers=len(results),
    )


async def measure(validators: dict[str, Validator], rounds: int) -> list[ModeResult]:
    collected: dict[str, list[tuple[float, dict[str, float], list[QueryResult]]]] = {m: [] for m in validators}
    for validator in validators.values():  # warm-up: first tesseract call, connections, imports
        await validator.run_round()
    for _ in range(rounds):
        for mode, validator in validators.items():
            report = await validator.run_round()
            if report is None:
                raise RuntimeError(f"{mode}: the validator found no miners to query")
            collected[mode].append((report.duration_s, dict(report.phases), list(report.results)))
    return [summarize(mode, reports) for mode, reports in collected.items()]


def run(miners: int, rounds: int, difficulty: int) -> list[ModeResult]:
    with tempfile.TemporaryDirectory(prefix="bench-validator-") as home:
        config = UpConfig(home=Path(home), miners=miners, block_time_s=1.0)
        subnet = LocalSubnet(config, new_run_dir(config.home))
        try:
            subnet.start_chain()
            wallet = subnet.register_validator()
            subnet.start_miners()
            time.sleep(MinerConfig().auth_allowed_skew_s)  # a miner refuses what was signed before it started
            hotkey = wallet.hotkey.ss58_address
            chain = LocalChainClient(subnet.chain_url, config.netuid)
            validators = {
                mode: Validator(
                    chain=chain,
                    wallet=wallet,
                    hotkey=hotkey,
                    config=ValidatorConfig(
                        state_path=Path(home) / f"{mode}.json",
                        sample_size=miners,
                        deadline_s=DEADLINE_S,
                        difficulty=difficulty,
                        allowed_axon_networks=parse_networks(["127.0.0.0/8"]),  # the miners serve on loopback
                    ),
                    make_challenge=generate_challenge,
                    score=reward_parts,
                    metrics=ValidatorMetrics(hotkey),
                    rng=random.Random(7),
                    query=strategy,
                )
                for mode, strategy in MODES.items()
            }
            return asyncio.run(measure(validators, rounds))
        finally:
            subnet.stop()


def main(
    miners: int = typer.Option(3, min=1, max=16, help="tesseract miner processes"),
    rounds: int = typer.Option(4, min=1, max=50, help="timed rounds per mode (after one warm-up each)"),
    difficulty: int = typer.Option(1, min=0, max=4, help="challenge difficulty"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Time validator rounds with concurrent queries against the sequential baseline."""
    configure_logging(logging.ERROR)
    results = run(miners, rounds, difficulty)
    by_mode = {r.mode: r for r in results}
    speedup = by_mode["sequential"].round_p50_s / by_mode["concurrent"].round_p50_s
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "miners": miners,
                    "results": [asdict(r) for r in results],
                    "sequential_over_concurrent": speedup,
                }
            )
        )
        return
    table = Table(title=f"validator round, {miners} tesseract miners on loopback")
    for column in (
        "mode",
        "rounds",
        "round p50 s",
        "round mean s",
        *(f"{p} p50 s" for p in PHASES),
        "ok/answers",
    ):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in results:
        phases = (f"{r.phases_p50_s[p]:.3f}" for p in PHASES)
        table.add_row(
            r.mode,
            str(r.rounds),
            f"{r.round_p50_s:.3f}",
            f"{r.round_mean_s:.3f}",
            *phases,
            f"{r.answers_ok}/{r.answers}",
        )
    console = Console()
    console.print(table)
    console.print(f"sequential / concurrent round time (p50): {speedup:.2f}x")


if __name__ == "__main__":
    typer.run(main)
