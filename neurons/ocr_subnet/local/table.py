"""The local subnet's status table, built from the chain's metagraph and the validator's state.

Pure: rows from plain values, then a rich table or a JSON document from the rows, so what the
live view shows and what `--json` prints cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from rich.table import Table

from ocr_subnet.chain.port import Metagraph
from ocr_subnet.validator.state import ValidatorState


@dataclass(frozen=True)
class Row:
    uid: int
    hotkey: str
    role: str  # "validator" or "miner"
    backend: str
    ema: float | None  # the validator's EMA for a miner; None until it was scored once
    incentive: float
    stake: float
    last_weights_block: int | None  # the validator's last successful weight set


@dataclass(frozen=True)
class Snapshot:
    block: int | None
    rounds: int
    rows: tuple[Row, ...]
    chain_ok: bool


def build_snapshot(
    metagraph: Metagraph | None,
    state: ValidatorState | None,
    roles: Mapping[str, tuple[str, str]],
    chain_ok: bool,
) -> Snapshot:
    """One row per neuron we launched (`roles`: hotkey -> (role, backend)), validator first, then by uid."""
    scores = state.scores if state is not None else {}
    last_weights = state.last_weight_block if state is not None else None
    rows = []
    neurons = {n.hotkey: n for n in metagraph.neurons} if metagraph is not None else {}
    for hotkey, (role, backend) in roles.items():
        neuron = neurons.get(hotkey)
        score = scores.get(hotkey)
        rows.append(
            Row(
                uid=neuron.uid if neuron is not None else -1,
                hotkey=hotkey,
                role=role,
                backend=backend,
                ema=score.ema if score is not None else None,
                incentive=neuron.incentive if neuron is not None else 0.0,
                stake=neuron.stake if neuron is not None else 0.0,
                last_weights_block=last_weights if role == "validator" else None,
            )
        )
    rows.sort(key=lambda r: (r.role != "validator", r.uid))
    return Snapshot(
        block=metagraph.block if metagraph is not None else None,
        rounds=state.rounds if state is not None else 0,
        rows=tuple(rows),
        chain_ok=chain_ok,
    )


def short_hotkey(hotkey: str) -> str:
    """Enough of an ss58 address to tell neurons apart in a terminal; JSON keeps the full one."""
    return hotkey if len(hotkey) <= 14 else f"{hotkey[:8]}…{hotkey[-4:]}"


def _cell(value: float | int | None, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def render(snapshot: Snapshot, title: str) -> Table:
    chain = f"block {_cell(snapshot.block)}" + ("" if snapshot.chain_ok else " (chain unreachable)")
    table = Table(title=title, caption=f"{chain} | validator rounds {snapshot.rounds} | Ctrl-C stops everything")
    for column in ("uid", "role", "hotkey", "backend", "EMA", "incentive", "stake", "last weights block"):
        table.add_column(column, justify="left" if column in ("role", "hotkey", "backend") else "right")
    for row in snapshot.rows:
        table.add_row(
            str(row.uid),
            row.role,
            short_hotkey(row.hotkey),
            row.backend,
            _cell(row.ema, ".4f"),
            f"{row.incentive:.4f}",
            f"{row.stake:,.0f}",
            _cell(row.last_weights_block),
        )
    return table


def to_json(snapshot: Snapshot, extra: Mapping[str, Any]) -> dict[str, Any]:
    validator = next((asdict(r) for r in snapshot.rows if r.role == "validator"), None)
    return {
        **extra,
        "block": snapshot.block,
        "chain_reachable": snapshot.chain_ok,
        "validator_rounds": snapshot.rounds,
        "last_weights_block": validator["last_weights_block"] if validator else None,
        "validator": validator,
        "miners": [asdict(r) for r in snapshot.rows if r.role == "miner"],
    }
