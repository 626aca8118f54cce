"""Miner -> the axon Service validators reach, the miner Deployment, and (triton backend) its Triton servers.

The axon Service comes first: with a cluster-allocated node port, the port the miner publishes on
chain is only known once the Service exists, so the handler applies it, reads the port back and
passes it to `miner_deployment`.
"""

from __future__ import annotations

from subnet_operator import api
from subnet_operator.builders import common, triton
from subnet_operator.builders.common import InvalidSpec, Manifest, Owner, Spec

AXON_PORT_NAME = "axon"


def axon_service(owner: Owner, spec: Spec) -> Manifest:
    axon = spec["axon"]
    port = common.service_port(AXON_PORT_NAME, axon["port"])
    extra: Manifest = {}
    if axon["serviceType"] == "NodePort" and axon.get("nodePort") is not None:
        port["nodePort"] = axon["nodePort"]
    if axon["serviceType"] == "LoadBalancer":
        extra["loadBalancerIP"] = published_address(spec, node_port=None)[0]
    return common.service(owner, api.MINER_COMPONENT, [port], service_type=axon["serviceType"], **extra)


def published_address(spec: Spec, node_port: int | None) -> tuple[str, int]:
    """The ip and port the miner announces on chain: what validators outside the cluster dial."""
    axon = spec["axon"]
    if axon["serviceType"] == "LoadBalancer":
        if not axon.get("externalIp"):
            raise InvalidSpec("spec.axon.externalIp is required when spec.axon.serviceType is LoadBalancer")
        return axon["externalIp"], axon.get("externalPort") or axon["port"]
    port = axon.get("externalPort") or axon.get("nodePort") or node_port
    if port is None:
        raise InvalidSpec("the axon Service has no node port yet")
    return axon.get("externalIp") or common.HOST_IP, port


def command(owner: Owner, spec: Spec, node_port: int | None) -> list[str]:
    """Exactly `ocr-subnet miner ...`, its options taken from the spec."""
    neuron, axon = spec["neuron"], spec["axon"]
    external_ip, external_port = published_address(spec, node_port)
    backend = ["--backend", spec["backend"]]
    if spec["backend"] == "triton":
        backend += ["--triton-url", triton.triton_url(owner)]
    permit = "--require-validator-permit" if neuron["requireValidatorPermit"] else "--no-require-validator-permit"
    return [
        "ocr-subnet",
        "miner",
        *common.chain_args(spec["chain"]),
        *common.wallet_args(spec["wallet"]),
        *common.options(
            {
                "--host": common.POD_IP,
                "--port": axon["port"],
                "--external-ip": external_ip,
                "--external-port": external_port,
            }
        ),
        *backend,
        *common.options({"--min-stake": neuron["minStake"]}),
        permit,
        *common.options(
            {
                "--max-concurrency": neuron["maxConcurrency"],
                "--max-queue": neuron["maxQueue"],
                "--max-connections": neuron["maxConnections"],
                "--metagraph-refresh": neuron["metagraphRefreshSeconds"],
                "--startup-timeout": neuron["startupTimeoutSeconds"],
                "--log-level": spec["logLevel"],
            }
        ),
    ]


def miner_deployment(owner: Owner, spec: Spec, node_port: int | None) -> Manifest:
    """`node_port`: the port the cluster gave the axon Service (NodePort without a fixed one)."""
    axon_port = spec["axon"]["port"]
    wallet_volume, wallet_mount = common.wallet_volume(spec["wallet"])
    tmp_volume, tmp_mount = common.tmp_volume()
    container = common.neuron_container(
        api.MINER_COMPONENT,
        spec,
        command=command(owner, spec, node_port),
        port=(AXON_PORT_NAME, axon_port),
        mounts=[wallet_mount, tmp_mount],
        health_path="/healthz",
        startup_failures=int(spec["neuron"]["startupTimeoutSeconds"] // 5) + 2,
    )
    return common.deployment(
        owner,
        api.MINER_COMPONENT,
        replicas=1,  # one hotkey, one miner
        containers=[container],
        volumes=[wallet_volume, tmp_volume],
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        spec=spec,
        annotations=common.scrape_annotations(axon_port),  # /metrics shares the axon port
    )


def triton_objects(owner: Owner, spec: Spec, replicas: int | None) -> list[Manifest]:
    """The Triton Service and Deployment, or nothing for the tesseract backend."""
    if spec["backend"] != "triton":
        return []
    return [triton.triton_service(owner), triton.triton_deployment(owner, spec, replicas)]
