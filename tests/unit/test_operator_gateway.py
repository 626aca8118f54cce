"""Validator.spec.gateway: the gateway's Deployment, Service and Ingress, checked without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from subnet_operator import api
from subnet_operator.builders import gateway
from subnet_operator.builders.common import InvalidSpec

from tests.unit.test_operator_builders import OWNER_VALIDATOR, containers, parse_cli, validator_spec

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
