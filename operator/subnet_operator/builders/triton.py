"""A Miner's Triton model servers: a Deployment the scaler resizes, and the Service the miner calls."""

from __future__ import annotations

from subnet_operator import api, validation
from subnet_operator.builders import common
from subnet_operator.builders.common import InvalidSpec, Manifest, Owner, Spec

HTTP_PORT, GRPC_PORT, METRICS_PORT, HEALTH_PORT = 8000, 8001, 8002, 8003
# health: `triton serve`'s canary endpoint, /ready only while a tiny inference answers in time
PORTS = {"http": HTTP_PORT, "grpc": GRPC_PORT, "metrics": METRICS_PORT, "health": HEALTH_PORT}
GPU_TAINT = "nvidia.com/gpu"  # the taint NVIDIA's GPU operator and the clouds' GPU pools put on GPU nodes


def triton_spec(spec: Spec) -> Spec:
    """The Triton section of a Miner that uses it, checked where the schema cannot check it."""
    for problem in validation.triton_problems({**spec, "backend": "triton"}):
        raise InvalidSpec(problem)
    return spec["triton"]


def external(triton: Spec) -> bool:
    """Something other than the operator (an HPA, KEDA, `kubectl scale miner`) owns the replica count."""
    return triton["scaling"]["mode"] == "external"


def deployment_replicas(triton: Spec, replicas: int | None) -> int | None:
    """Operator mode: keep what the scaler chose, inside the spec's bounds; a new Deployment starts at the
    minimum. External mode: what the scale subresource set, else None: the field is left out of the applied
    manifest, so the operator never owns it and never undoes an HPA's or KEDA's choice."""
    if external(triton):
        return triton.get("replicas")
    if replicas is None:
        return triton["minReplicas"]
    return min(max(replicas, triton["minReplicas"]), triton["maxReplicas"])


def pod_selector(owner: Owner) -> str:
    """The Triton pods' label selector as a string, what a scale subresource reports."""
    return ",".join(f"{key}={value}" for key, value in common.selector_labels(owner, api.TRITON_COMPONENT).items())


def triton_url(owner: Owner) -> str:
    """Where the miner reaches Triton: every ready pod behind the headless Service, balanced round-robin
    by the miner's gRPC client (one ClusterIP connection would pin all calls to one replica)."""
    return f"dns:///{api.object_name(owner.name, api.TRITON_COMPONENT)}:{GRPC_PORT}"


def triton_service(owner: Owner) -> Manifest:
    ports = [common.service_port(name, port) for name, port in PORTS.items()]
    return common.service(owner, api.TRITON_COMPONENT, ports, clusterIP="None")


def command(triton: Spec) -> list[str]:
    """Exactly `ocr-subnet triton serve ...`; without a model repository it serves the packaged weights."""
    repository = ["--model-repo", triton["modelRepository"]] if triton.get("modelRepository") else []
    ports = [arg for name, port in PORTS.items() for arg in (f"--{name}-port", str(port))]
    return ["ocr-subnet", "triton", "serve", *repository, "--host", common.POD_IP, *ports]


def triton_deployment(owner: Owner, spec: Spec, replicas: int | None) -> Manifest:
    """`replicas`: what the Deployment has now (None when it does not exist yet)."""
    triton = triton_spec(spec)
    resources = common.resources(triton["resources"])
    env = common.downward_env()
    tolerations: list[Manifest] = []
    if triton["gpus"] > 0:
        gpus, resource = str(triton["gpus"]), triton["gpuResource"]
        resources["limits"][resource] = gpus
        resources["requests"][resource] = gpus
        tolerations = [
            {"key": key, "operator": "Exists", "effect": "NoSchedule"} for key in dict.fromkeys([GPU_TAINT, resource])
        ]
    else:
        env.append(common.NO_GPUS_ENV)
    tmp_volume, tmp_mount = common.tmp_volume()
    shm_volume = {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": str(triton["shmSize"])}}
    container = {
        "name": api.TRITON_COMPONENT,
        "image": triton["image"],
        "imagePullPolicy": triton["imagePullPolicy"],
        "command": command(triton),
        "env": env,
        "ports": [common.container_port(name, port) for name, port in PORTS.items()],
        "resources": resources,
        "securityContext": common.container_security_context(),
        "volumeMounts": [tmp_mount, {"name": "shm", "mountPath": "/dev/shm"}],
        # Loading models can take minutes: the startup probe holds liveness off until Triton is ready.
        "startupProbe": common.http_probe("/v2/health/ready", "http", period_s=5, failures=120),
        "livenessProbe": common.http_probe("/v2/health/live", "http", period_s=10, failures=3),
        # Triton's /v2/health/ready says the model is loaded, not that it answers: readiness follows the
        # canary inference instead, so a wedged model's pod leaves the miner's rotation.
        "readinessProbe": common.http_probe("/ready", "health", period_s=5, failures=3),
    }
    return common.deployment(
        owner,
        api.TRITON_COMPONENT,
        replicas=deployment_replicas(triton, replicas),
        containers=[container],
        volumes=[tmp_volume, shm_volume],
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        pod=triton["pod"],
        annotations=common.scrape_annotations(METRICS_PORT),
        tolerations=tolerations,
    )
