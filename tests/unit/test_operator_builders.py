"""The pure builders: what a Validator or Miner spec becomes, checked without a cluster.

Every container command is parsed by the real `ocr-subnet` command line (without running it), so a
renamed or removed option fails here rather than in a crash-looping pod.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import typer
from ocr_subnet.cli import app
from subnet_operator import api, crds
from subnet_operator.builders import common, miner, network, pod, triton, validator
from subnet_operator.builders.common import InvalidSpec, Owner
from subnet_operator.schema import apply_defaults

OWNER_MINER = Owner(kind="Miner", name="m1", namespace="ns", uid="0000-miner")
OWNER_VALIDATOR = Owner(kind="Validator", name="v1", namespace="ns", uid="0000-validator")
WALLET = {"secretName": "m1-hotkey", "name": "miner", "hotkey": "hk1"}


def miner_spec(**overrides: Any) -> dict[str, Any]:
    spec = {"image": "neuron:1", "wallet": WALLET, "chain": {"netuid": 7}, "triton": {"image": "triton:1"}}
    return apply_defaults(crds.miner_spec(), {**spec, **overrides})


def validator_spec(**overrides: Any) -> dict[str, Any]:
    spec = {"image": "neuron:1", "wallet": {"secretName": "v1-hotkey"}, "chain": {"netuid": 7}}
    return apply_defaults(crds.validator_spec(), {**spec, **overrides})


def parse_cli(argv: Sequence[str]) -> dict[str, Any]:
    """The options `ocr-subnet ...` would run with: parsed and validated by its own parser, not invoked."""
    assert argv[0] == "ocr-subnet"
    command = typer.main.get_command(app)
    words = list(argv[1:])
    while hasattr(command, "get_command"):
        name = words.pop(0)
        command = command.get_command(command.context_class(command), name)
        assert command is not None, f"no command {name!r} in {argv}"
    return command.make_context(argv[0], words).params


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return deployment["spec"]["template"]["spec"]["containers"]


def all_miner_objects(spec: dict[str, Any], node_port: int | None = 30123) -> list[dict[str, Any]]:
    return [
        miner.axon_service(OWNER_MINER, spec),
        miner.miner_deployment(OWNER_MINER, spec, node_port),
        *miner.triton_objects(OWNER_MINER, spec, None),
    ]


def deployments_of(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (o for o in objects if o["kind"] == "Deployment")


def test_every_object_is_owned_labelled_and_named_after_its_resource() -> None:
    objects = [
        *all_miner_objects(miner_spec()),
        validator.state_claim(OWNER_VALIDATOR, validator_spec(persistence={"retain": False})),
        validator.metrics_service(OWNER_VALIDATOR, validator_spec()),
        validator.validator_deployment(OWNER_VALIDATOR, validator_spec()),
    ]
    assert {o["metadata"]["name"] for o in objects} == {
        "m1-miner",
        "m1-triton",
        "v1-state",
        "v1-validator",
    }
    assert len(objects) == 7  # a Service and a Deployment share a name; a kind each
    for obj in objects:
        meta = obj["metadata"]
        owner = OWNER_MINER if meta["name"].startswith("m1") else OWNER_VALIDATOR
        assert meta["namespace"] == "ns"
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "subnet.ocr.dev/v1alpha1",
                "kind": owner.kind,
                "name": owner.name,
                "uid": owner.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert meta["labels"][api.LABEL_MANAGED_BY] == api.OPERATOR_NAME
        assert meta["labels"][api.LABEL_INSTANCE] == owner.name


def test_pods_run_as_non_root_on_a_read_only_root_with_requests_and_limits() -> None:
    spec = miner_spec()
    objects = [*all_miner_objects(spec), validator.validator_deployment(OWNER_VALIDATOR, validator_spec())]
    for deployment in deployments_of(objects):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) >= {"cpu", "memory"}
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts  # the only writable place besides declared volumes


def test_the_hotkey_alone_is_mounted_read_only_where_bittensor_looks_for_it() -> None:
    deployment = miner.miner_deployment(OWNER_MINER, miner_spec(), 30123)
    pod = deployment["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"] == {
        "secretName": "m1-hotkey",
        "items": [{"key": "hotkey", "path": "hk1"}],
        "defaultMode": 0o440,
    }
    [mount] = [m for m in containers(deployment)[0]["volumeMounts"] if m["name"] == volume["name"]]
    assert mount == {"name": "hotkey", "mountPath": f"{common.WALLETS_DIR}/miner/hotkeys", "readOnly": True}
    params = parse_cli(containers(deployment)[0]["command"])
    assert (params["wallet_path"], params["wallet_name"], params["wallet_hotkey"]) == (
        common.WALLETS_DIR,
        "miner",
        "hk1",
    )


def test_the_miner_runs_exactly_the_miner_command_with_the_spec_settings() -> None:
    spec = miner_spec(
        chain={"endpoint": "wss://entrypoint.example:443", "netuid": 7},
        neuron={"minStake": 10.0, "requireValidatorPermit": False, "maxConcurrency": 3},
    )
    deployment = miner.miner_deployment(OWNER_MINER, spec, 30123)
    params = parse_cli(containers(deployment)[0]["command"])
    assert params["network"] == "wss://entrypoint.example:443"
    assert params["netuid"] == 7
    assert params["host"] == "$(POD_IP)"
    assert params["port"] == 8091
    assert (params["external_ip"], params["external_port"]) == ("$(HOST_IP)", 30123)
    assert params["backend"] == "triton"
    assert params["triton_url"] == "dns:///m1-triton:8001"
    assert params["min_stake"] == 10.0
    assert params["require_validator_permit"] is False
    assert params["max_concurrency"] == 3
    probes = {key: containers(deployment)[0][key]["httpGet"]["path"] for key in ("startupProbe", "livenessProbe")}
    assert probes == {"startupProbe": "/healthz", "livenessProbe": "/healthz"}


def test_a_fixed_node_port_is_set_on_the_service_and_published() -> None:
    spec = miner_spec(axon={"nodePort": 31000, "externalIp": "203.0.113.7"})
    service = miner.axon_service(OWNER_MINER, spec)
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"] == [
        {"name": "axon", "port": 8091, "targetPort": "axon", "protocol": "TCP", "nodePort": 31000}
    ]
    params = parse_cli(containers(miner.miner_deployment(OWNER_MINER, spec, None))[0]["command"])
    assert (params["external_ip"], params["external_port"]) == ("203.0.113.7", 31000)


def test_a_load_balancer_with_an_external_ip_asks_for_it_and_publishes_it() -> None:
    spec = miner_spec(axon={"serviceType": "LoadBalancer", "externalIp": "203.0.113.9"})
    service = miner.axon_service(OWNER_MINER, spec)
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerIP"] == "203.0.113.9"
    params = parse_cli(containers(miner.miner_deployment(OWNER_MINER, spec, None))[0]["command"])
    assert (params["external_ip"], params["external_port"]) == ("203.0.113.9", 8091)


def test_a_load_balancer_publishes_the_ip_it_is_assigned_once_it_has_one() -> None:
    spec = miner_spec(axon={"serviceType": "LoadBalancer"})
    service = miner.axon_service(OWNER_MINER, spec)
    assert "loadBalancerIP" not in service["spec"]
    assert miner.load_balancer_ip(service) is None
    with pytest.raises(common.NotYet, match="no IP yet"):
        miner.miner_deployment(OWNER_MINER, spec, 30555, miner.load_balancer_ip(service))
    assigned = {
        **service,
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}, {"ip": "198.51.100.4"}]}},
    }
    deployment = miner.miner_deployment(OWNER_MINER, spec, 30555, miner.load_balancer_ip(assigned))
    params = parse_cli(containers(deployment)[0]["command"])
    assert (params["external_ip"], params["external_port"]) == ("198.51.100.4", 8091)


def test_the_node_ip_can_be_published_for_a_load_balancer_too() -> None:
    spec = miner_spec(axon={"serviceType": "LoadBalancer", "publish": "NodeIP"})
    params = parse_cli(containers(miner.miner_deployment(OWNER_MINER, spec, 30555))[0]["command"])
    assert (params["external_ip"], params["external_port"]) == ("$(HOST_IP)", 30555)


@pytest.mark.parametrize(
    ("axon", "message"),
    [
        ({"publish": "ExternalIP"}, r"spec\.axon\.externalIp is required when spec\.axon\.publish is ExternalIP"),
        ({"publish": "LoadBalancerIP"}, r"spec\.axon\.publish LoadBalancerIP needs spec\.axon\.serviceType"),
    ],
)
def test_a_published_address_that_cannot_exist_is_refused_naming_the_field(axon: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        miner.axon_service(OWNER_MINER, miner_spec(axon=axon))


def test_triton_pods_get_gpus_probes_and_the_serve_command() -> None:
    spec = miner_spec(triton={"image": "triton:1", "gpus": 2, "modelRepository": "/models"})
    deployment = triton.triton_deployment(OWNER_MINER, spec, None)
    [container] = containers(deployment)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert deployment["spec"]["template"]["spec"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert "NVIDIA_VISIBLE_DEVICES" not in {e["name"] for e in container["env"]}  # the device plugin sets it
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}  # the canary inference
    assert container["startupProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["command"][:3] == ["ocr-subnet", "triton", "serve"]
    params = parse_cli(container["command"])
    assert (params["http_port"], params["grpc_port"], params["metrics_port"]) == (8000, 8001, 8002)
    assert params["health_port"] == 8003
    assert str(params["model_repo"]) == "/models"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/dev/shm"}


def test_triton_without_gpus_asks_for_none_and_serves_the_packaged_weights() -> None:
    deployment = triton.triton_deployment(OWNER_MINER, miner_spec(), None)
    [container] = containers(deployment)
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert "tolerations" not in deployment["spec"]["template"]["spec"]
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in container["env"]  # a CUDA image sees no GPU
    assert "--model-repo" not in container["command"]


def test_the_triton_service_is_headless_so_the_miner_balances_over_every_replica() -> None:
    service = triton.triton_service(OWNER_MINER)
    assert service["spec"]["clusterIP"] == "None"
    assert [p["port"] for p in service["spec"]["ports"]] == [8000, 8001, 8002, 8003]


@pytest.mark.parametrize(("current", "expected"), [(None, 2), (1, 2), (3, 3), (9, 5)])
def test_triton_replicas_keep_the_scalers_choice_within_the_bounds(current: int | None, expected: int) -> None:
    spec = miner_spec(triton={"image": "triton:1", "minReplicas": 2, "maxReplicas": 5})
    assert triton.triton_deployment(OWNER_MINER, spec, current)["spec"]["replicas"] == expected


def test_in_external_mode_the_replica_count_is_only_what_the_scale_subresource_set() -> None:
    external = {"image": "triton:1", "minReplicas": 2, "maxReplicas": 5, "scaling": {"mode": "external"}}
    left_alone = triton.triton_deployment(OWNER_MINER, miner_spec(triton=external), 3)
    assert "replicas" not in left_alone["spec"]  # applied without the field: the operator never owns it
    scaled = triton.triton_deployment(OWNER_MINER, miner_spec(triton={**external, "replicas": 7}), 3)
    assert scaled["spec"]["replicas"] == 7  # as `kubectl scale miner` said, outside the operator's own bounds
    operator_mode = triton.triton_deployment(OWNER_MINER, miner_spec(triton={**external, "scaling": {}}), 3)
    assert operator_mode["spec"]["replicas"] == 3


def test_the_scale_subresource_selector_matches_the_triton_pods() -> None:
    deployment = triton.triton_deployment(OWNER_MINER, miner_spec(), None)
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert triton.pod_selector(OWNER_MINER) == ",".join(f"{k}={v}" for k, v in labels.items())


def test_bounds_the_schema_cannot_check_are_refused_naming_the_fields() -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.triton\.maxReplicas \(1\) is below spec\.triton\.minReplicas \(3\)"):
        miner.triton_objects(OWNER_MINER, miner_spec(triton={"image": "t", "minReplicas": 3, "maxReplicas": 1}), None)
    no_triton = miner_spec()
    del no_triton["triton"]
    with pytest.raises(InvalidSpec, match=r"spec\.triton is required"):
        miner.triton_objects(OWNER_MINER, no_triton, None)


def test_the_tesseract_backend_runs_no_triton() -> None:
    spec = miner_spec(backend="tesseract")
    assert miner.triton_objects(OWNER_MINER, spec, None) == []
    params = parse_cli(containers(miner.miner_deployment(OWNER_MINER, spec, 30123))[0]["command"])
    assert params["backend"] == "tesseract"
    assert params["triton_url"] is None


def test_the_validator_keeps_its_state_on_its_claim_and_never_runs_twice() -> None:
    spec = validator_spec(persistence={"size": "5Gi", "storageClassName": "fast"}, metricsPort=9200)
    claim = validator.state_claim(OWNER_VALIDATOR, spec)
    assert "ownerReferences" not in claim["metadata"]  # retained: it outlives the Validator
    owned = validator.state_claim(OWNER_VALIDATOR, validator_spec(persistence={"retain": False}))
    assert owned["metadata"]["ownerReferences"] == [OWNER_VALIDATOR.reference]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "fast",
    }
    deployment = validator.validator_deployment(OWNER_VALIDATOR, spec)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "state", "persistentVolumeClaim": {"claimName": "v1-state"}} in pod["volumes"]
    [container] = pod["containers"]
    params = parse_cli(container["command"])
    assert str(params["state"]).startswith(validator.STATE_DIR + "/")
    assert {"name": "state", "mountPath": validator.STATE_DIR} in container["volumeMounts"]
    assert (params["metrics_host"], params["metrics_port"]) == ("$(POD_IP)", 9200)
    assert params["network"] == "finney"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9200"
    service = validator.metrics_service(OWNER_VALIDATOR, spec)
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9200, "targetPort": "metrics", "protocol": "TCP"}]


def test_validator_neuron_settings_reach_its_command() -> None:
    spec = validator_spec(
        neuron={"sampleSize": 3, "roundIntervalSeconds": 5, "deadlineSeconds": 9.5, "emaAlpha": 0.2, "difficulty": 2}
    )
    params = parse_cli(containers(validator.validator_deployment(OWNER_VALIDATOR, spec))[0]["command"])
    assert (params["sample_size"], params["round_interval"], params["deadline"]) == (3, 5.0, 9.5)
    assert (params["ema_alpha"], params["difficulty"]) == (0.2, 2)


def test_the_validators_challenge_mix_reaches_its_command() -> None:
    default = parse_cli(containers(validator.validator_deployment(OWNER_VALIDATOR, validator_spec()))[0]["command"])
    assert default["family"] == [
        "invoice",
        "letter",
        "receipt",
        "columns",
        "table",
        "form",
        "invoice-layout",
    ]  # the CRD's default: the whole mix
    narrowed = validator_spec(challenge={"families": ["invoice"]})
    params = parse_cli(containers(validator.validator_deployment(OWNER_VALIDATOR, narrowed))[0]["command"])
    assert params["family"] == ["invoice"]


def test_a_limit_left_out_takes_its_request() -> None:
    assert common.resources({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2"}}) == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }


def test_a_spec_change_changes_the_pod_template_but_never_the_selector() -> None:
    before = miner_spec()
    after = copy.deepcopy(before)
    after["image"] = "neuron:2"
    after["neuron"]["maxQueue"] = 99
    old = miner.miner_deployment(OWNER_MINER, before, 30123)
    new = miner.miner_deployment(OWNER_MINER, after, 30123)
    assert old["spec"]["selector"] == new["spec"]["selector"]
    assert containers(new)[0]["image"] == "neuron:2"
    assert old["spec"]["template"] != new["spec"]["template"]


def test_allowed_axon_networks_reach_the_validator_command() -> None:
    spec = validator_spec(neuron={"allowedAxonNetworks": ["10.244.0.0/16", "10.96.0.0/24", "fd00::/8"]})
    params = parse_cli(containers(validator.validator_deployment(OWNER_VALIDATOR, spec))[0]["command"])
    assert params["allowed_axon_networks"] == ["10.244.0.0/16", "10.96.0.0/24", "fd00::/8"]
    assert parse_cli(validator.command(validator_spec()))["allowed_axon_networks"] == []  # global unicast only


@pytest.mark.parametrize("bad", ["10.244.0.1/16", "pods", "10.0.0.0/40"])
def test_an_allowed_axon_network_that_is_not_a_cidr_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.neuron\.allowedAxonNetworks: not a network in CIDR notation"):
        validator.validator_deployment(OWNER_VALIDATOR, validator_spec(neuron={"allowedAxonNetworks": [bad]}))


GPU_POOL_TAINT = {"key": "pool", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
POD_SETTINGS = {
    "nodeSelector": {"pool": "cpu"},
    "tolerations": [{"key": "spot", "operator": "Exists"}],
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}],
    "priorityClassName": "subnet-critical",
    "runtimeClassName": "gvisor",
    "imagePullSecrets": [{"name": "regcred"}],
    "annotations": {"team": "ocr", "prometheus.io/port": "1"},
    "labels": {"team": "ocr", api.LABEL_INSTANCE: "spoofed"},
}
TRITON_SETTINGS = {
    "nodeSelector": {"pool": "gpu"},
    "tolerations": [GPU_POOL_TAINT],
    "runtimeClassName": "nvidia",
    "priorityClassName": "gpu-serving",
}


def pod_of(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def test_pod_settings_reach_every_pod_as_core_podspec_fields() -> None:
    objects = [
        miner.miner_deployment(OWNER_MINER, miner_spec(pod=POD_SETTINGS), 30123),
        validator.validator_deployment(OWNER_VALIDATOR, validator_spec(pod=POD_SETTINGS)),
    ]
    for deployment in objects:
        pod = pod_of(deployment)
        for key in ("nodeSelector", "tolerations", "affinity", "topologySpreadConstraints", "imagePullSecrets"):
            assert pod[key] == POD_SETTINGS[key], key
        assert (pod["priorityClassName"], pod["runtimeClassName"]) == ("subnet-critical", "gvisor")
        template = deployment["spec"]["template"]["metadata"]
        assert template["annotations"]["team"] == template["labels"]["team"] == "ocr"
        # the operator's own win: the selector keeps matching and scraping keeps its port
        assert template["labels"][api.LABEL_INSTANCE] == deployment["metadata"]["labels"][api.LABEL_INSTANCE]
        assert template["annotations"]["prometheus.io/port"] != "1"
        assert deployment["spec"]["selector"]["matchLabels"].items() <= template["labels"].items()


def test_triton_is_placed_on_its_own_and_the_miner_never_inherits_its_gpu_placement() -> None:
    spec = miner_spec(
        pod={"nodeSelector": {"pool": "cpu"}},
        triton={"image": "triton:1", "gpus": 1, "pod": TRITON_SETTINGS},
    )
    miner_pod = pod_of(miner.miner_deployment(OWNER_MINER, spec, 30123))
    triton_pod = pod_of(triton.triton_deployment(OWNER_MINER, spec, None))
    assert miner_pod["nodeSelector"] == {"pool": "cpu"}
    assert "tolerations" not in miner_pod and "runtimeClassName" not in miner_pod
    assert triton_pod["nodeSelector"] == {"pool": "gpu"}
    assert triton_pod["runtimeClassName"] == "nvidia"
    assert triton_pod["priorityClassName"] == "gpu-serving"
    assert triton_pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        GPU_POOL_TAINT,
    ]


def test_the_gpu_resource_name_is_configurable_and_tolerated() -> None:
    spec = miner_spec(triton={"image": "triton:1", "gpus": 1, "gpuResource": "nvidia.com/mig-1g.10gb"})
    deployment = triton.triton_deployment(OWNER_MINER, spec, None)
    [container] = containers(deployment)
    assert container["resources"]["limits"]["nvidia.com/mig-1g.10gb"] == "1"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert [t["key"] for t in pod_of(deployment)["tolerations"]] == ["nvidia.com/gpu", "nvidia.com/mig-1g.10gb"]


def test_neuron_pods_never_see_the_nodes_gpus() -> None:
    for deployment in (
        miner.miner_deployment(OWNER_MINER, miner_spec(), 30123),
        validator.validator_deployment(OWNER_VALIDATOR, validator_spec()),
    ):
        assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in containers(deployment)[0]["env"]


def test_the_operators_pull_secrets_reach_every_pod_after_the_specs_own() -> None:
    spec = pod.with_pull_secrets(miner_spec(pod={"imagePullSecrets": [{"name": "mine"}]}), ["regcred", "mine"])
    assert pod_of(miner.miner_deployment(OWNER_MINER, spec, 30123))["imagePullSecrets"] == [
        {"name": "mine"},
        {"name": "regcred"},
    ]
    assert pod_of(triton.triton_deployment(OWNER_MINER, spec, None))["imagePullSecrets"] == [
        {"name": "regcred"},
        {"name": "mine"},
    ]
    plain = validator_spec()
    assert pod.with_pull_secrets(plain, []) == plain
    assert "imagePullSecrets" not in pod_of(validator.validator_deployment(OWNER_VALIDATOR, plain))


def test_network_policies_open_the_axon_and_nothing_else() -> None:
    triton_policy = network.triton_policy(OWNER_MINER, ["monitoring"])
    assert triton_policy["spec"]["podSelector"]["matchLabels"] == common.selector_labels(OWNER_MINER, "triton")
    serving, metrics = triton_policy["spec"]["ingress"]
    assert serving["from"] == [{"podSelector": {"matchLabels": common.selector_labels(OWNER_MINER, "miner")}}]
    assert {p["port"] for p in serving["ports"]} == {triton.HTTP_PORT, triton.GRPC_PORT, triton.HEALTH_PORT}
    assert metrics == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"protocol": "TCP", "port": triton.METRICS_PORT}],
    }
    [axon] = network.miner_policy(OWNER_MINER, miner_spec())["spec"]["ingress"]
    assert axon == {"ports": [{"protocol": "TCP", "port": 8091}]}  # from anywhere
    [scrape] = network.validator_policy(OWNER_VALIDATOR, validator_spec(), ["mon-a"])["spec"]["ingress"]
    assert scrape["ports"] == [{"protocol": "TCP", "port": 9101}]
    # no monitoring namespace: the validator's pods accept nothing
    assert network.validator_policy(OWNER_VALIDATOR, validator_spec(), [])["spec"]["ingress"] == []
    for policy in (triton_policy, network.miner_policy(OWNER_MINER, miner_spec())):
        assert policy["metadata"]["ownerReferences"] == [OWNER_MINER.reference]
        assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress stays open: the chain, other neurons
