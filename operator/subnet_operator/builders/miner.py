"""Miner -> the axon Service validators reach, the miner Deployment, and (triton backend) its Triton servers.

The axon Service comes first: with a cluster-allocated node port, the port the miner publishes on
chain is only known once the Service exists, so the handler applies it, reads the port back and
passes it to `miner_deployment`.
"""

from __future__ import annotations

from subnet_operator import api, validation
from subnet_operator.builders import common, triton
from subnet_operator.builders.common import InvalidSpec, Manifest, Owner, Spec

AXON_PORT_NAME = "axon"


def axon_service(owner: Owner, spec: Spec) -> Manifest:
    axon = spec["axon"]
    publish_mode(axon)  # a bad combination is refused before anything is applied
    port = common.service_port(AXON_PORT_NAME, axon["port"])
    extra: Manifest = {}
    if axon["serviceType"] == "NodePort" and axon.get("nodePort") is not None:
        port["nodePort"] = axon["nodePort"]
    if axon["serviceType"] == "LoadBalancer" and axon.get("externalIp"):
        extra["loadBalancerIP"] = axon["externalIp"]
    return common.service(owner, api.MINER_COMPONENT, [port], service_type=axon["serviceType"], **extra)


def publish_mode(axon: Spec) -> str:
    """spec.axon.publish, or what it means when unset (see its schema description)."""
    for problem in validation.axon_problems(axon):
        raise InvalidSpec(problem)
    mode = axon.get("publish")
    if mode is None:
        if axon.get("externalIp"):
            return "ExternalIP"
        return "LoadBalancerIP" if axon["serviceType"] == "LoadBalancer" else "NodeIP"
    return mode


def load_balancer_ip(service: Manifest) -> str | None:
    """The IP a LoadBalancer Service was assigned, None until it is."""
    ingress = service.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    return next((entry["ip"] for entry in ingress if entry.get("ip")), None)


def published_address(spec: Spec, node_port: int | None, lb_ip: str | None = None) -> tuple[str, int]:
    """The ip and port the miner announces on chain: what validators outside the cluster dial.

    `node_port`: the one the cluster gave the axon Service; `lb_ip`: the IP its load balancer got.
    """
    axon = spec["axon"]
    mode = publish_mode(axon)
    if mode == "LoadBalancerIP" and lb_ip is None:
        raise common.NotYet("the axon LoadBalancer has no IP yet (spec.axon.publish: LoadBalancerIP)")
    ip = {"NodeIP": common.HOST_IP, "ExternalIP": axon.get("externalIp"), "LoadBalancerIP": lb_ip}[mode]
    if axon["serviceType"] == "LoadBalancer" and mode != "NodeIP":
        return ip, axon.get("externalPort") or axon["port"]
    port = axon.get("externalPort") or axon.get("nodePort") or node_port
    if port is None:
        raise common.NotYet("the axon Service has no node port yet")
    return ip, port


def command(owner: Owner, spec: Spec, node_port: int | None, lb_ip: str | None = None) -> list[str]:
    """Exactly `ocr-subnet miner ...`, its options taken from the spec."""
    neuron, axon = spec["neuron"], spec["axon"]
    external_ip, external_port = published_address(spec, node_port, lb_ip)
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


def miner_deployment(owner: Owner, spec: Spec, node_port: int | None, lb_ip: str | None = None) -> Manifest:
    """`node_port`: the port the cluster gave the axon Service; `lb_ip`: the IP its load balancer got."""
    axon_port = spec["axon"]["port"]
    wallet_volume, wallet_mount = common.wallet_volume(spec["wallet"])
    tmp_volume, tmp_mount = common.tmp_volume()
    container = common.neuron_container(
        api.MINER_COMPONENT,
        spec,
        command=command(owner, spec, node_port, lb_ip),
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
        pod=spec["pod"],
        annotations=common.scrape_annotations(axon_port),  # /metrics shares the axon port
    )


def triton_objects(owner: Owner, spec: Spec, replicas: int | None) -> list[Manifest]:
    """The Triton Service and Deployment, or nothing for the tesseract backend."""
    if spec["backend"] != "triton":
        return []
    return [triton.triton_service(owner), triton.triton_deployment(owner, spec, replicas)]
