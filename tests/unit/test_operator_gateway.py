"""Validator.spec.gateway: the gateway's Deployment, Service and Ingress, checked without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ocr_subnet.gateway.keys import Access, KeyFile
from subnet_operator import api
from subnet_operator.builders import gateway
from subnet_operator.builders.common import InvalidSpec, Owner

from tests.unit.test_operator_builders import OWNER_VALIDATOR, containers, parse_cli, validator_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ON = {"enabled": True, "apiKeySecretName": "gw-keys"}


def test_no_gateway_by_default() -> None:
    assert gateway.gateway_objects(OWNER_VALIDATOR, validator_spec()) == []


def test_an_enabled_gateway_gets_a_deployment_with_probes_and_a_service() -> None:
    spec = validator_spec(gateway={**ON, "replicas": 3, "serviceType": "LoadBalancer"})
    service, deployment = gateway.gateway_objects(OWNER_VALIDATOR, spec)
    assert service["kind"] == "Service" and service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["name"] == api.object_name("v1", "gateway")
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert deployment["spec"]["replicas"] == 3
    (container,) = containers(deployment)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["api-keys"]["secret"]["secretName"] == "gw-keys"
    assert volumes["hotkey"]["secret"]["secretName"] == "v1-hotkey"  # signs as the validator
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "8080"


def test_the_gateway_runs_exactly_the_gateway_command() -> None:
    spec = validator_spec(gateway=ON, neuron={"allowedAxonNetworks": ["10.0.0.0/8"], "deadlineSeconds": 9})
    (container,) = containers(gateway.gateway_deployment(OWNER_VALIDATOR, spec))
    params = parse_cli(container["command"])
    assert params["api_keys"] == Path("/var/run/ocr-subnet/api-keys/keys.json")
    assert params["port"] == 8080 and params["deadline"] == 9
    assert params["allowed_axon_networks"] == ["10.0.0.0/8"]
    assert params["wallet_path"] == "/var/run/ocr-subnet/wallets" and params["netuid"] == 7
    assert params["anonymous"] is False


def test_an_ingress_when_asked_for() -> None:
    spec = validator_spec(gateway={**ON, "ingress": {"enabled": True, "host": "ocr.example.org", "className": "nginx"}})
    objects = gateway.gateway_objects(OWNER_VALIDATOR, spec)
    (ingress,) = [o for o in objects if o["kind"] == "Ingress"]
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "ocr.example.org"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "v1-gateway", "port": {"name": "http"}}


def test_an_enabled_gateway_without_a_key_secret_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.gateway\.apiKeySecretName"):
        gateway.gateway_objects(OWNER_VALIDATOR, validator_spec(gateway={"enabled": True}))


def test_the_gateway_example_targets_the_objects_the_operator_makes() -> None:
    docs = [d for d in yaml.safe_load_all((EXAMPLES / "gateway.yaml").read_text()) if d]
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    (secret,) = by_kind["Secret"]
    (hpa,) = by_kind["HorizontalPodAutoscaler"]
    keys = KeyFile.model_validate_json(secret["stringData"]["keys.json"])
    assert Access(keys).identify("Bearer ocr_demo-public-key-never-use-in-production").name == "demo"
    spec = validator_spec(gateway={"enabled": True, "apiKeySecretName": secret["metadata"]["name"]})
    owner = Owner(kind="Validator", name="validator", namespace="ns", uid="u")
    _service, deployment = gateway.gateway_objects(owner, spec)
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    policies = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: p for p in by_kind["NetworkPolicy"]
    }
    assert policies.keys() == {"gateway", "validator"}
    assert policies["gateway"]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    (port,) = containers(deployment)[0]["ports"]
    assert policies["gateway"]["spec"]["ingress"][0]["ports"][0]["port"] == port["name"]
