"""The chart ships exactly what `ocr-subnet monitoring render` builds, and that only uses names from metric_names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from ocr_subnet import metric_names as names
from ocr_subnet.cli import app
from subnet_operator.monitoring import dashboard, render, rules
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
CHART_FILES = REPO / "charts" / "subnet" / "files"
runner = CliRunner()


def known_series() -> set[str]:
    """Every series name metric_names defines, with the `_bucket`/`_sum`/`_count` of the histograms."""
    defined = {value for key, value in vars(names).items() if key.isupper() and isinstance(value, str)}
    return defined | {f"{name}{suffix}" for name in defined for suffix in ("_bucket", "_sum", "_count")}


def test_chart_files_match_a_fresh_render() -> None:
    assert render.stale(CHART_FILES) == [], "run `ocr-subnet monitoring render` and commit charts/subnet/files/"


def test_render_command_writes_then_checks(tmp_path: Path) -> None:
    written = runner.invoke(app, ["monitoring", "render", "--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(render.rendered())
    assert runner.invoke(app, ["monitoring", "render", "--out", str(tmp_path), "--check"]).exit_code == 0
    (tmp_path / render.RULES_FILE).write_text("groups: []\n")
    stale = runner.invoke(app, ["monitoring", "render", "--out", str(tmp_path), "--check"])
    assert stale.exit_code == 1
    assert render.RULES_FILE in stale.output


def test_every_series_name_comes_from_metric_names() -> None:
    """A name typed by hand (or a metric renamed in metric_names only) shows up here."""
    used = set()
    for content in render.rendered().values():
        used |= set(re.findall(r"\b(?:ocr_subnet_|nv_inference_)[a-z_]+\b", content))
    assert used, "the rendered files mention no series at all"
    assert used <= known_series(), sorted(used - known_series())


def test_rendered_files_parse() -> None:
    rendered = render.rendered()
    assert yaml.safe_load(rendered[render.RULES_FILE]) == rules.rule_groups()
    assert json.loads(rendered[render.DASHBOARD_FILE]) == dashboard.dashboard()
    assert set(yaml.safe_load(rendered[render.SCRAPE_FILE])) == {"operatorJob", "podMonitor"}


def test_thresholds_follow_the_operator_defaults() -> None:
    """The alerts fire where the operator's own health conditions turn False (CRD defaults)."""
    from subnet_operator import crds
    from subnet_operator.schema import apply_defaults

    t = rules.Thresholds.from_operator_defaults()
    weights = apply_defaults(crds.validator_spec(), {})["health"]["weights"]
    score = apply_defaults(crds.miner_spec(), {})["health"]["score"]
    assert (t.weights_stale_tempos, t.weight_failure_rate) == (
        weights["maxEpochsWithoutWeights"],
        weights["maxFailureRate"],
    )
    assert (t.ema_drop_fraction, t.ema_min, t.ema_drop_window_s) == (
        score["maxDrop"],
        score["minEma"],
        score["dropWindowSeconds"],
    )
    assert rules.window(t.ema_drop_window_s) in yaml.safe_dump(rules.rule_groups())
