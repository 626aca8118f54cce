"""`ocr-subnet miner` argument handling, and the JSON log lines every neuron writes."""

from __future__ import annotations

import json
import logging

import pytest
from ocr_subnet.cli import app
from ocr_subnet.logs import JsonFormatter, log_event
from ocr_subnet.miner.run import BACKENDS, load_backend
from typer.testing import CliRunner


def test_miner_help_lists_the_main_options() -> None:
    result = CliRunner().invoke(app, ["miner", "--help"])
    assert result.exit_code == 0
    for option in ("--network", "--netuid", "--wallet-name", "--min-stake", "--max-concurrency", "--backend"):
        assert option in result.output


def test_unknown_backend_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["miner", "--backend", "no-such-engine"])
    assert result.exit_code == 2
    assert "unknown backend" in result.output


def test_unknown_network_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["miner", "--network", "nowhere"])
    assert result.exit_code == 2
    assert "unknown network" in result.output


def test_wildcard_bind_without_external_ip_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["miner", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "external ip" in result.output


def test_tesseract_is_a_known_backend() -> None:
    assert "tesseract" in BACKENDS


def test_loading_an_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="tesseract"):
        load_backend("no-such-engine")


def test_log_event_is_one_json_line_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="test_miner_cli"):
        log_event(logging.getLogger("test_miner_cli"), "ocr_request", logging.WARNING, outcome="ok", detail="a\nb")
    line = JsonFormatter().format(caplog.records[0])
    assert "\n" not in line
    assert json.loads(line) | {"ts": 0} == {
        "ts": 0,
        "level": "warning",
        "logger": "test_miner_cli",
        "event": "ocr_request",
        "outcome": "ok",
        "detail": "a\nb",
    }
