"""examples/: ready to `kubectl apply`, hotkeys only, every reference resolved, and accepted by the builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from bittensor.wallet import Keypair
from subnet_operator import api, crds
from subnet_operator.builders import miner, validator
from subnet_operator.builders.common import Owner
from subnet_operator.schema import apply_defaults

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
