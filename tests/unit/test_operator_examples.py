"""examples/: ready to `kubectl apply`, hotkeys only, every reference resolved, and accepted by the builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from bittensor.wallet import Keypair
from ocr_subnet.cli import app
from subnet_operator import api, crds
from subnet_operator.builders import miner, validator
from subnet_operator.builders.common import Owner
from subnet_operator.schema import apply_defaults
from typer.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


@pytest.mark.parametrize(("name", "kind", "count"), [("miner.yaml", "Miner", 3), ("validator.yaml", "Validator", 1)])
def test_each_resource_brings_the_hotkey_secret_it_references(name: str, kind: str, count: int) -> None:
    docs = documents(name)
    resources = [d for d in docs if d["kind"] == kind]
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    assert len(resources) == count
    for resource in resources:
        assert resource["apiVersion"] == api.API_VERSION
        assert "namespace" not in resource["metadata"]  # applied into whatever namespace is chosen
        secret = secrets[resource["spec"]["wallet"]["secretName"]]
        assert set(secret["stringData"]) == {"hotkey"}  # the coldkey never enters the cluster
        keyfile = json.loads(secret["stringData"]["hotkey"])
        assert Keypair.create_from_private_key(keyfile["privateKey"]).ss58_address == keyfile["ss58Address"]


def test_the_examples_build_without_complaint() -> None:
    for doc in documents("miner.yaml") + documents("validator.yaml"):
        if doc["kind"] == "Secret":
            continue
        owner = Owner(doc["kind"], doc["metadata"]["name"], "demo", "uid")
        kind = api.MINER if doc["kind"] == "Miner" else api.VALIDATOR
        spec = apply_defaults(crds.spec_schema(kind), doc["spec"])
        if kind is api.MINER:
            assert miner.triton_objects(owner, spec, None)
            miner.miner_deployment(owner, spec, miner.published_address(spec, 30001)[1])
        else:
            validator.validator_deployment(owner, spec)


def test_the_autoscaler_examples_are_exactly_what_the_python_renders() -> None:
    done = CliRunner().invoke(
        app,
        ["operator", "autoscaling", "--miner-file", str(EXAMPLES / "miner.yaml"), "--out", str(EXAMPLES), "--check"],
    )
    assert done.exit_code == 0, done.output


def test_the_hpa_and_the_scaled_object_carry_the_miners_own_target_bounds_and_windows() -> None:
    [miner_doc] = [d for d in documents("miner.yaml") if d["kind"] == "Miner"][:1]
    triton = apply_defaults(crds.miner_spec(), miner_doc["spec"])["triton"]
    [hpa] = documents("triton-hpa.yaml")
    [keda] = documents("triton-keda.yaml")
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{miner_doc['metadata']['name']}-triton"}
    assert hpa["spec"]["scaleTargetRef"] == keda["spec"]["scaleTargetRef"] == target
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (triton["minReplicas"], triton["maxReplicas"])
    assert (keda["spec"]["minReplicaCount"], keda["spec"]["maxReplicaCount"]) == (
        triton["minReplicas"],
        triton["maxReplicas"],
    )
    external = hpa["spec"]["metrics"][0]["external"]
    [trigger] = keda["spec"]["triggers"]
    assert external["target"] == {"type": "Value", "value": f"{triton['targetQueueTimeMs']:g}"}
    assert trigger["metadata"]["threshold"] == external["target"]["value"]
    assert trigger["metricType"] == "Value"
    assert hpa["spec"]["behavior"] == keda["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == triton["scaleDownStabilizationSeconds"]
    # One query: the adapter's, with the HPA's selector (and its namespace) in place of <<.LabelMatchers>>.
    [rule] = documents("prometheus-adapter-values.yaml")[0]["rules"]["external"]
    assert rule["name"]["as"] == external["metric"]["name"]
    labels = {"namespace": "ocr-subnet", **external["metric"]["selector"]["matchLabels"]}
    matchers = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    assert rule["metricsQuery"].replace("<<.LabelMatchers>>", matchers) == trigger["metadata"]["query"]


def test_autoscaling_refuses_a_file_without_that_miner() -> None:
    args = ["operator", "autoscaling", "--miner-file", str(EXAMPLES / "miner.yaml"), "--name", "nobody"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code != 0
    assert "has no Miner nobody with a spec.triton section" in done.output
