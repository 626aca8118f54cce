"""The CRDs: one source of truth (the committed YAML is what the Python renders), structural schemas that
Kubernetes 1.20 accepts, sane defaults, and the API server's defaulting reproduced for the builders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from subnet_operator import api, crds
from subnet_operator.schema import QUANTITY_PATTERN, apply_defaults, obj, string

REPO = Path(__file__).resolve().parents[2]
CHART_CRDS = REPO / "charts" / "subnet" / "crds"


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for key, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in ("validators.yaml", "miners.yaml"):
        yield name, crds.all_crds()[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_the_committed_crds_are_exactly_what_the_python_renders() -> None:
    rendered = {name: crds.render(manifest) for name, manifest in crds.all_crds().items()}
    committed = {path.name: path.read_text() for path in CHART_CRDS.glob("*.yaml")}
    assert committed == rendered, "regenerate with `ocr-subnet operator crds --out charts/subnet/crds`"


@pytest.mark.parametrize(("name", "schema"), list(schemas()))
def test_schemas_are_structural_and_free_of_cel(name: str, schema: dict[str, Any]) -> None:
    for path, node in nodes(schema):
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{name}{path} has no type"
        assert "x-kubernetes-validations" not in node, f"{name}{path}: CEL rules are not on Kubernetes 1.20"
        if node.get("type") == "object":
            assert (
                "properties" in node
                or "additionalProperties" in node
                or node.get("x-kubernetes-preserve-unknown-fields")
            ), f"{name}{path}: an object with no fields"


def check_default(path: str, node: dict[str, Any], value: Any) -> None:
    kind = node.get("type")
    python = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}
    if kind is not None:
        assert isinstance(value, python[kind]) and not (kind != "boolean" and isinstance(value, bool)), path
    if kind == "array":
        assert node.get("minItems", 0) <= len(value) <= node.get("maxItems", len(value)), path
        for index, item in enumerate(value):
            check_default(f"{path}[{index}]", node["items"], item)
    if "enum" in node:
        assert value in node["enum"], path
    if "minimum" in node:
        assert value > node["minimum"] if node.get("exclusiveMinimum") else value >= node["minimum"], path
    if "maximum" in node:
        assert value <= node["maximum"], path


@pytest.mark.parametrize(("name", "schema"), list(schemas()))
def test_every_default_satisfies_its_own_field(name: str, schema: dict[str, Any]) -> None:
    defaults = [(path, node) for path, node in nodes(schema) if "default" in node]
    assert len(defaults) > 20
    for path, node in defaults:
        check_default(f"{name}{path}", node, node["default"])


def test_kinds_have_status_printer_columns_short_names_and_a_category() -> None:
    miner = crds.all_crds()["miners.yaml"]["spec"]
    version = miner["versions"][0]
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.triton.replicas",
            "statusReplicasPath": ".status.tritonReplicas",
            "labelSelectorPath": ".status.tritonSelector",
        },
    }
    assert crds.all_crds()["validators.yaml"]["spec"]["versions"][0]["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Phase", "UID", "EMA", "Triton", "Age"]
    assert miner["names"]["shortNames"] == ["ocrm"]
    assert miner["names"]["categories"] == [api.CATEGORY]
    validator = crds.all_crds()["validators.yaml"]["spec"]
    assert validator["names"]["categories"] == [api.CATEGORY]
    assert validator["versions"][0]["name"] == "v1alpha1"


def test_names_are_limited_so_every_pod_name_stays_findable() -> None:
    for _, schema in schemas():
        name = schema["properties"]["metadata"]["properties"]["name"]
        assert name["maxLength"] == api.MAX_NAME_LENGTH
    # The longest object name plus a ReplicaSet hash and "-" must fit kube's 58-character pod name base.
    longest = "x" * api.MAX_NAME_LENGTH + "-" + api.VALIDATOR_COMPONENT + "-" + "x" * 10
    assert len(longest) + 1 <= 58


def test_defaults_fill_nested_objects_as_the_api_server_does() -> None:
    spec = apply_defaults(crds.miner_spec(), {"image": "i", "wallet": {"secretName": "s"}, "chain": {"netuid": 1}})
    assert spec["wallet"] == {"secretName": "s", "key": "hotkey", "name": "default", "hotkey": "default"}
    assert spec["axon"] == {"port": 8091, "serviceType": "NodePort"}
    assert spec["health"]["score"]["minEma"] == 0.05
    assert "triton" not in spec  # no default: the user names the Triton image
    given = apply_defaults(crds.miner_spec(), {"triton": {"image": "t", "maxReplicas": 9}, "axon": {"port": 9000}})
    assert given["triton"]["maxReplicas"] == 9 and given["triton"]["minReplicas"] == 1
    assert given["axon"] == {"port": 9000, "serviceType": "NodePort"}


def test_apply_defaults_leaves_explicit_values_and_lists_of_objects_alone() -> None:
    schema = obj({"items": {"type": "array", "items": obj({"a": string(default="x"), "b": string()})}})
    assert apply_defaults(schema, {"items": [{}, {"a": "y"}]}) == {"items": [{"a": "x"}, {"a": "y"}]}
    assert apply_defaults(schema, {}) == {}


def test_quantities_accept_what_kubernetes_accepts() -> None:
    for good in ("500m", "2Gi", "1", "1.5", "1e3", "256Mi"):
        assert re.fullmatch(QUANTITY_PATTERN, good)
    for bad in ("2 Gi", "lots", "-", "1GB"):
        assert not re.fullmatch(QUANTITY_PATTERN, bad)


def test_the_rendered_yaml_loads_back_to_the_same_manifests() -> None:
    for name, manifest in crds.all_crds().items():
        assert yaml.safe_load(crds.render(manifest)) == manifest, name
