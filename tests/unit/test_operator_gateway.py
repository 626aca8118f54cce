"""Validator.spec.gateway: the gateway's Deployment, Services and Ingress, and its link to the validator
over their /metrics, checked without a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from ocr_subnet.gateway.keys import Access, KeyFile
from subnet_operator import api
from subnet_operator.builders import gateway, network, validator
from subnet_operator.builders.common import InvalidSpec, Owner

from tests.unit.test_operator_builders import OWNER_VALIDATOR, containers, parse_cli, validator_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ON = {"enabled": True, "apiKeySecretName": "gw-keys"}


def test_no_gateway_by_default() -> None:
    assert gateway.gateway_objects(OWNER_VALIDATOR, validator_spec()) == []


def test_an_enabled_gateway_gets_a_deployment_with_probes_and_a_service() -> None:
    spec = validator_spec(gateway={**ON, "replicas": 3, "serviceType": "LoadBalancer"})
    service, pods, deployment = gateway.gateway_objects(OWNER_VALIDATOR, spec)
    assert service["kind"] == "Service" and service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["name"] == api.object_name("v1", "gateway")
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    # headless, for the validator: its name resolves to every ready gateway pod
    assert pods["kind"] == "Service" and pods["metadata"]["name"] == "v1-gateway-pods"
    assert pods["spec"]["clusterIP"] == "None" and pods["spec"]["type"] == "ClusterIP"
    assert pods["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert pods["spec"]["ports"] == service["spec"]["ports"]
    assert deployment["spec"]["replicas"] == 3
    (container,) = containers(deployment)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["api-keys"]["secret"]["secretName"] == "gw-keys"
    assert volumes["hotkey"]["secret"]["secretName"] == "v1-hotkey"  # signs as the validator
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "8080"


def test_the_gateway_runs_exactly_the_gateway_command() -> None:
    neuron = {"allowedAxonNetworks": ["10.0.0.0/8"], "deadlineSeconds": 9, "difficulty": 3}
    spec = validator_spec(gateway=ON, neuron=neuron)
    (container,) = containers(gateway.gateway_deployment(OWNER_VALIDATOR, spec))
    params = parse_cli(container["command"])
    assert params["api_keys"] == Path("/var/run/ocr-subnet/api-keys/keys.json")
    # The validator's deadline and level: organic pages carry what its challenges carry.
    assert params["port"] == 8080 and params["deadline"] == 9 and params["difficulty"] == 3
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
    _service, _pods, deployment = gateway.gateway_objects(owner, spec)
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    policies = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: p for p in by_kind["NetworkPolicy"]
    }
    assert policies.keys() == {"gateway", "validator"}
    assert policies["gateway"]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    (port,) = containers(deployment)[0]["ports"]
    assert policies["gateway"]["spec"]["ingress"][0]["ports"][0]["port"] == port["name"]


def service_behind(url: str, services: list[dict[str, Any]]) -> dict[str, Any]:
    """The Service an in-cluster URL (`http://<name>.<namespace>.svc:<port>/...`) reaches, checked port and all."""
    parts = urlsplit(url)
    name, namespace, svc = parts.hostname.split(".")
    assert svc == "svc" and parts.path == "/metrics"
    (service,) = [s for s in services if (s["metadata"]["name"], s["metadata"]["namespace"]) == (name, namespace)]
    assert parts.port in [port["port"] for port in service["spec"]["ports"]]
    return service


def test_the_gateway_and_the_validator_read_each_others_metrics_through_services() -> None:
    spec = validator_spec(gateway={**ON, "replicas": 3, "port": 8081}, metricsPort=9200)
    service, pods, deployment = gateway.gateway_objects(OWNER_VALIDATOR, spec)
    services = [service, pods, validator.metrics_service(OWNER_VALIDATOR, spec)]
    ranking = parse_cli(containers(deployment)[0]["command"])["validator_metrics"]
    assert ranking == "http://v1-validator.ns.svc:9200/metrics"
    reached = service_behind(ranking, services)
    assert reached["spec"]["selector"]["app.kubernetes.io/component"] == "validator"
    params = parse_cli(containers(validator.validator_deployment(OWNER_VALIDATOR, spec))[0]["command"])
    (organic,) = params["organic_metrics"]
    assert organic == "http://v1-gateway-pods.ns.svc:8081/metrics"
    assert service_behind(organic, services) is pods  # headless: every gateway pod, not one at random
    assert params["organic_weight"] == 0.3 and params["organic_state"] is None


@pytest.mark.parametrize(
    ("gateway_spec", "weight"),
    [
        ({}, None),
        ({**ON, "enabled": False}, None),
        ({**ON, "organicWeight": 0}, None),
        ({**ON, "organicWeight": 0.7}, 0.7),
    ],
)
def test_the_validator_blends_organic_scores_only_from_an_enabled_gateway_with_a_weight(
    gateway_spec: dict[str, Any], weight: float | None
) -> None:
    spec = validator_spec(gateway=gateway_spec)
    params = parse_cli(containers(validator.validator_deployment(OWNER_VALIDATOR, spec))[0]["command"])
    assert params["organic_metrics"] == ([] if weight is None else ["http://v1-gateway-pods.ns.svc:8080/metrics"])
    assert params["organic_weight"] == (0.0 if weight is None else weight)


def admits(policies: list[dict[str, Any]], source: dict[str, str], target: dict[str, str], port: int) -> bool:
    """Kubernetes' ingress rule for pods of one namespace: a pod no policy selects takes everything; one that
    policies select takes what one of their rules lets in (a rule without `from` lets in every source)."""

    def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
        return selector["matchLabels"].items() <= labels.items()

    selecting = [p for p in policies if selects(p["spec"]["podSelector"], target)]
    return not selecting or any(
        any(p["port"] == port for p in rule.get("ports", [{"port": port}]))
        and ("from" not in rule or any("podSelector" in f and selects(f["podSelector"], source) for f in rule["from"]))
        for policy in selecting
        for rule in policy["spec"]["ingress"]
    )


def test_network_policies_let_the_gateway_and_the_validator_read_each_others_metrics() -> None:
    spec = validator_spec(gateway=ON, metricsPort=9200)
    _service, _pods, deployment = gateway.gateway_objects(OWNER_VALIDATOR, spec)
    gateway_pod = deployment["spec"]["template"]["metadata"]["labels"]
    validator_pod = validator.validator_deployment(OWNER_VALIDATOR, spec)["spec"]["template"]["metadata"]["labels"]
    stranger = {"app.kubernetes.io/name": "something-else"}
    other_gateway = {**gateway_pod, "app.kubernetes.io/instance": "v2"}
    policies = [network.validator_policy(OWNER_VALIDATOR, spec, ["monitoring"])]
    assert admits(policies, gateway_pod, validator_pod, 9200)  # its EMAs, for ranking
    assert admits(policies, validator_pod, gateway_pod, 8080)  # organic scores (no policy selects the gateway)
    assert not admits(policies, gateway_pod, validator_pod, 8080)
    assert not admits(policies, stranger, validator_pod, 9200)
    assert not admits(policies, other_gateway, validator_pod, 9200)  # another Validator's gateway
    off = [network.validator_policy(OWNER_VALIDATOR, validator_spec(), ["monitoring"])]
    assert not admits(off, gateway_pod, validator_pod, 9101)
