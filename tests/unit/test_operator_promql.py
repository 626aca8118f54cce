"""The operator's PromQL: valid to Prometheus's own parser (promtool), selecting exactly one resource's
pods, and answers parsed into the samples the health and scaling rules take."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from ocr_subnet import metric_names as names
from subnet_operator import promql
from subnet_operator.prometheus import Sample

from tests.support.tools import require_tool

MATCHERS = promql.pods_of("ns", "m1-triton")


def test_every_query_parses_with_promtool(tmp_path: Path) -> None:
    expressions = [
        promql.triton_query(MATCHERS, 60),
        promql.validator_query(promql.pods_of("ns", "v1-validator"), 600),
        promql.miner_hotkey_query(promql.pods_of("ns", "m1-miner")),
        promql.score_query("5HotKey", 1800),
    ]
    rules = {
        "groups": [
            {"name": "operator", "rules": [{"record": f"operator:q{i}", "expr": e} for i, e in enumerate(expressions)]}
        ]
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    checked = subprocess.run(
        [require_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_pod_matchers_select_one_deployments_pods_only() -> None:
    pattern = re.search(r'pod=~"([^"]+)"', MATCHERS).group(1)
    assert 'namespace="ns"' in MATCHERS
    assert re.fullmatch(pattern, "m1-triton-5d69f9d6d4-8p9d2")
    for other in ("m1-miner-5d69f9d6d4-8p9d2", "m1-triton-x-triton-5d69f9d6d4-8p9d2", "xm1-triton-5d69f9d6d4-8p9d2"):
        assert not re.fullmatch(pattern, other), other


def tagged(tag: str, value: float, **labels: str) -> Sample:
    return Sample({promql.TAG: tag, **labels}, value)


def test_triton_answers_become_an_observation_only_when_both_rates_exist() -> None:
    observation = promql.triton_observation(
        [tagged("requests", 20.0), tagged("queue", 1_000_000.0), tagged("pending", 3.0)]
    )
    assert observation is not None
    assert (observation.queue_ms, observation.pending) == (50.0, 3.0)
    assert promql.triton_observation([tagged("pending", 3.0)]) is None
    assert promql.triton_observation([]) is None


def test_validator_answers_become_gauges_attempts_and_the_hotkey() -> None:
    samples = [
        tagged(names.VALIDATOR_CURRENT_BLOCK, 120.0, validator_hotkey="5V"),
        tagged(names.VALIDATOR_TEMPO, 20.0, validator_hotkey="5V"),
        tagged("attempts", 3.0, validator_hotkey="5V", result="success"),
        tagged("attempts", 1.0, validator_hotkey="5V", result="chain_error"),
    ]
    sample = promql.weights_sample(samples)
    assert sample is not None
    assert sample.hotkey == "5V"
    assert sample.gauges == {names.VALIDATOR_CURRENT_BLOCK: 120.0, names.VALIDATOR_TEMPO: 20.0}
    assert sample.attempts == {"success": 3.0, "chain_error": 1.0}
    assert promql.weights_sample([]) is None


def test_score_answers_become_per_validator_emas_peaks_and_means() -> None:
    samples = [
        tagged("ema", 0.5, validator_hotkey="v1", uid="4", miner_hotkey="m"),
        tagged("ema", 0.3, validator_hotkey="v2", uid="4", miner_hotkey="m"),
        tagged("peak", 0.6, validator_hotkey="v1", uid="4", miner_hotkey="m"),
        tagged("mean", 0.4, miner_hotkey="m"),
        tagged("mean", 0.9, miner_hotkey="other"),
    ]
    sample = promql.score_sample("m", samples)
    assert sample.uid == 4
    assert sample.per_validator == {"v1": 0.5, "v2": 0.3}
    assert sample.peaks == {"v1": 0.6}
    assert sample.all_means == {"m": 0.4, "other": 0.9}
    assert promql.miner_hotkey([Sample({"miner_hotkey": "5M"}, 0.0)]) == "5M"
    assert promql.miner_hotkey([]) is None
