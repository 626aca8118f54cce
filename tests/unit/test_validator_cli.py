"""`ocr-subnet validator` (and the gateway's link to it) refuse bad settings before touching a wallet or the chain."""

from __future__ import annotations

import pytest
from ocr_subnet.cli import app
from typer.testing import CliRunner


@pytest.mark.parametrize("power", ["0", "inf", "nan", "-1"])
def test_a_weight_power_that_is_not_a_positive_number_is_a_clear_error(power: str) -> None:
    result = CliRunner().invoke(app, ["validator", "--weight-power", power])
    assert result.exit_code == 2
    assert "weight-power" in result.output


def test_the_weight_power_is_documented_in_the_help() -> None:
    result = CliRunner().invoke(app, ["validator", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--weight-power" in result.output


def test_an_unknown_document_family_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["validator", "--family", "invoice", "--family", "poem"])
    assert result.exit_code == 2
    assert "poem" in result.output and "letter" in result.output


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["validator", "--organic-metrics", "gateway:8080/metrics"], "is not an http:// or https:// URL"),
        (["validator", "--organic-state", "o.json", "--organic-metrics", "http://g/metrics"], "not both"),
        (["gateway", "serve", "--anonymous", "--validator-metrics", "ftp://v/metrics"], "is not an http"),
        (
            ["gateway", "serve", "--anonymous", "--validator-state", "s.json", "--validator-metrics", "http://v/m"],
            "not both",
        ),
    ],
)
def test_organic_and_ranking_sources_are_checked_before_anything_starts(argv: list[str], says: str) -> None:
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert says in result.output
