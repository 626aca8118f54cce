"""Validator -> its state PVC, its metrics Service and its Deployment (one replica: one writer of state and weights)."""

from __future__ import annotations

from subnet_operator import api
from subnet_operator.builders import common, gateway
from subnet_operator.builders.common import Manifest, Owner, Spec

STATE_DIR = "/var/lib/ocr-subnet"
METRICS_PORT_NAME = "metrics"


def state_claim(owner: Owner, spec: Spec) -> Manifest:
    """The state volume's claim; with persistence.retain (the default) it has no owner, so it outlives
    the Validator instead of being garbage-collected with it."""
    persistence = spec["persistence"]
    meta = common.metadata(owner, api.VALIDATOR_COMPONENT, api.STATE_SUFFIX)
    if persistence["retain"]:
        del meta["ownerReferences"]
    claim: Manifest = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(persistence["size"])}}},
    }
    if persistence.get("storageClassName"):
        claim["spec"]["storageClassName"] = persistence["storageClassName"]
    return claim


def metrics_service(owner: Owner, spec: Spec) -> Manifest:
    return common.service(owner, api.VALIDATOR_COMPONENT, [common.service_port(METRICS_PORT_NAME, spec["metricsPort"])])


def command(spec: Spec) -> list[str]:
    """Exactly `ocr-subnet validator ...`, its options taken from the spec."""
    neuron = spec["neuron"]
    networks = [part for network in common.allowed_networks(neuron) for part in ("--allowed-axon-network", network)]
    families = [part for family in spec.get("challenge", {}).get("families", []) for part in ("--family", family)]
    return [
        "ocr-subnet",
        "validator",
        *common.chain_args(spec["chain"]),
        *common.wallet_args(spec["wallet"]),
        *common.options(
            {
                "--state": f"{STATE_DIR}/state.json",
                "--metrics-host": common.POD_IP,
                "--metrics-port": spec["metricsPort"],
                "--sample-size": neuron["sampleSize"],
                "--round-interval": neuron["roundIntervalSeconds"],
                "--deadline": neuron["deadlineSeconds"],
                "--ema-alpha": neuron["emaAlpha"],
                "--difficulty": neuron["difficulty"],
                "--chain-timeout": neuron["chainTimeoutSeconds"],
                "--log-level": spec["logLevel"],
            }
        ),
        *networks,
        *families,
    ]


def validator_deployment(owner: Owner, spec: Spec) -> Manifest:
    wallet_volume, wallet_mount = common.wallet_volume(spec["wallet"])
    tmp_volume, tmp_mount = common.tmp_volume()
    state_volume = {
        "name": "state",
        "persistentVolumeClaim": {"claimName": api.object_name(owner.name, api.STATE_SUFFIX)},
    }
    # /metrics is served from the start, before the first chain call: it is the liveness signal.
    container = common.neuron_container(
        api.VALIDATOR_COMPONENT,
        spec,
        command=[*command(spec), *gateway.validator_args(owner, spec)],
        port=(METRICS_PORT_NAME, spec["metricsPort"]),
        mounts=[wallet_mount, tmp_mount, {"name": "state", "mountPath": STATE_DIR}],
        health_path="/metrics",
        startup_failures=60,
    )
    return common.deployment(
        owner,
        api.VALIDATOR_COMPONENT,
        replicas=1,
        containers=[container],
        volumes=[wallet_volume, tmp_volume, state_volume],
        strategy={"type": "Recreate"},  # never two validators on one hotkey and one state file
        pod=spec["pod"],
        annotations=common.scrape_annotations(spec["metricsPort"]),
    )
