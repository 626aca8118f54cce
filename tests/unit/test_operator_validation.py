"""The cross-field rules: each mistake the schema lets through is named by its field, valid specs pass."""

from __future__ import annotations

from typing import Any

import pytest
from subnet_operator import api, conditions, crds, validation
from subnet_operator.builders import miner, triton, validator
from subnet_operator.builders.common import InvalidSpec, Owner
from subnet_operator.schema import apply_defaults

OWNER = Owner(kind="Miner", name="m1", namespace="ns", uid="uid")


def miner_spec(**overrides: Any) -> dict[str, Any]:
    spec = {"image": "n:1", "wallet": {"secretName": "s"}, "chain": {"netuid": 1}, "triton": {"image": "t:1"}}
    return apply_defaults(crds.miner_spec(), {**spec, **overrides})


def validator_spec(**overrides: Any) -> dict[str, Any]:
    spec = {"image": "n:1", "wallet": {"secretName": "s"}, "chain": {"netuid": 1}}
    return apply_defaults(crds.validator_spec(), {**spec, **overrides})


def without_triton() -> dict[str, Any]:
    spec = miner_spec()
    del spec["triton"]
    return spec


MINER_MISTAKES = {
    "min above max": (
        miner_spec(triton={"image": "t", "minReplicas": 5, "maxReplicas": 2}),
        "spec.triton.maxReplicas (2) is below spec.triton.minReplicas (5)",
    ),
    "triton backend without triton": (without_triton(), "spec.triton is required when spec.backend is triton"),
    "external ip published without one": (
        miner_spec(axon={"serviceType": "LoadBalancer", "publish": "ExternalIP"}),
        "spec.axon.externalIp is required when spec.axon.publish is ExternalIP",
    ),
    "load balancer ip without a load balancer": (
        miner_spec(axon={"publish": "LoadBalancerIP"}),
        "spec.axon.publish LoadBalancerIP needs spec.axon.serviceType LoadBalancer",
    ),
    "local chain without endpoint": (
        miner_spec(chain={"network": "local", "netuid": 1}),
        "spec.chain.endpoint is required when spec.chain.network is local",
    ),
    "request above the default limit": (
        miner_spec(resources={"requests": {"cpu": "4"}}),
        "spec.resources.requests.cpu (4) is above spec.resources.limits.cpu (2)",
    ),
    "triton request above its limit": (
        miner_spec(triton={"image": "t", "resources": {"requests": {"memory": "9Gi"}, "limits": {"memory": "8192Mi"}}}),
        "spec.triton.resources.requests.memory (9Gi) is above spec.triton.resources.limits.memory (8192Mi)",
    ),
}


@pytest.mark.parametrize("case", sorted(MINER_MISTAKES))
def test_each_miner_mistake_is_named_by_its_field(case: str) -> None:
    spec, message = MINER_MISTAKES[case]
    assert [message in problem for problem in validation.problems(api.MINER, spec)] == [True]
    condition = validation.spec_condition(api.MINER, spec)
    assert (condition.type, condition.status, condition.reason) == ("SpecValid", "False", "SpecInvalid")
    assert message in condition.message


def test_validator_mistakes_are_named_too() -> None:
    spec = validator_spec(
        chain={"network": "local", "netuid": 1},
        resources={"requests": {"memory": "3Gi"}},
        neuron={"allowedAxonNetworks": ["pods"]},
    )
    found = validation.problems(api.VALIDATOR, spec)
    assert len(found) == 3
    assert found[0].startswith("spec.chain.endpoint is required")
    assert found[1].startswith("spec.resources.requests.memory (3Gi) is above spec.resources.limits.memory (2Gi)")
    assert found[2].startswith("spec.neuron.allowedAxonNetworks: ")


def test_every_problem_is_reported_at_once() -> None:
    spec = miner_spec(
        chain={"network": "local", "netuid": 1}, triton={"image": "t", "minReplicas": 3, "maxReplicas": 1}
    )
    assert len(validation.problems(api.MINER, spec)) == 2


@pytest.mark.parametrize(
    "spec",
    [
        miner_spec(),
        miner_spec(backend="tesseract", triton=None),
        miner_spec(resources={"requests": {"cpu": "2000m"}, "limits": {"cpu": "2"}}),  # equal is fine
        miner_spec(chain={"network": "local", "endpoint": "http://chain:9944", "netuid": 1}),
        miner_spec(axon={"serviceType": "LoadBalancer"}),
        miner_spec(axon={"publish": "ExternalIP", "externalIp": "203.0.113.1"}),
    ],
)
def test_valid_miners_pass(spec: dict[str, Any]) -> None:
    spec = {k: v for k, v in spec.items() if v is not None}
    assert validation.problems(api.MINER, spec) == []
    assert validation.spec_condition(api.MINER, spec) == validation.SPEC_IS_VALID


def test_the_builders_refuse_what_the_rules_refuse() -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.triton\.maxReplicas"):
        triton.triton_deployment(OWNER, MINER_MISTAKES["min above max"][0], None)
    with pytest.raises(InvalidSpec, match=r"spec\.axon\.externalIp"):
        miner.axon_service(OWNER, MINER_MISTAKES["external ip published without one"][0])
    with pytest.raises(InvalidSpec, match=r"spec\.neuron\.allowedAxonNetworks"):
        validator.command(validator_spec(neuron={"allowedAxonNetworks": ["10.0.0.1/8"]}))


def test_upsert_replaces_one_condition_and_keeps_the_others() -> None:
    stored = [
        {"type": "Ready", "status": "True", "reason": "r", "message": "m", "lastTransitionTime": "t0"},
        {"type": "SpecValid", "status": "True", "reason": "SpecValid", "message": "", "lastTransitionTime": "t0"},
    ]
    merged, transitions = conditions.upsert(stored, validation.spec_invalid("bad"), "t1", 2)
    assert [c["type"] for c in merged] == ["Ready", "SpecValid"]
    assert merged[0] == stored[0]
    assert (merged[1]["status"], merged[1]["message"], merged[1]["lastTransitionTime"]) == ("False", "bad", "t1")
    assert [t.previous for t in transitions] == ["True"]
    again, none = conditions.upsert(merged, validation.spec_invalid("bad"), "t2", 2)
    assert none == [] and again[1]["lastTransitionTime"] == "t1"
