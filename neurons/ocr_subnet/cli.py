"""`ocr-subnet`: one command line for every part of the subnet.

Each part registers its own commands and imports its heavy libraries (torch, bittensor, kopf)
inside the command bodies, so `--help` stays fast.
"""

from __future__ import annotations

import typer
from subnet_operator import cli as operator_cli
from subnet_operator.monitoring import cli as monitoring_cli

from ocr_subnet.chain import cli as chain_cli
from ocr_subnet.challenge import cli as challenge_cli
from ocr_subnet.evaluation import cli as evaluation_cli
from ocr_subnet.gateway import cli as gateway_cli
from ocr_subnet.local import cli as local_cli
from ocr_subnet.miner import cli as miner_cli
from ocr_subnet.model import cli as model_cli
from ocr_subnet.scoring import cli as scoring_cli
from ocr_subnet.triton import cli as triton_cli
from ocr_subnet.validator import cli as validator_cli

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="One command line for the OCR subnet: challenges, scoring, neurons, chain, models, operator.",
)

for part in (
    challenge_cli,
    scoring_cli,
    chain_cli,
    miner_cli,
    validator_cli,
    gateway_cli,
    local_cli,
    triton_cli,
    operator_cli,
    model_cli,
    monitoring_cli,
    evaluation_cli,
):
    part.register(app)
