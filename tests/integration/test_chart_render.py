"""The chart, rendered by Helm 3.10 without a cluster: lint, schema, and what every manifest must hold.

Each value file (the defaults and examples/values-*.yaml) passes `helm lint --strict` and renders; the
rendered objects are checked against their sources: RBAC rules against the operator's code, alert rules,
dashboard and scrape settings against the monitoring package, container commands against the CLI.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml
from ocr_subnet.cli import app
from subnet_operator import rbac
from subnet_operator.builders.common import RUN_AS
from subnet_operator.monitoring import dashboard, rules, scrape

from tests.support.helm import REGISTRY_VALUES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "subnet"
VALUE_FILES = sorted((REPO / "examples").glob("values-*.yaml"))
VALUES = [None, *VALUE_FILES]
MONITORING_API = "monitoring.coreos.com/v1"
POD_KINDS = {"Deployment": ("spec", "template", "spec"), "Job": ("spec", "template", "spec"), "Pod": ("spec",)}


def values_id(path: Path | None) -> str:
    return "defaults" if path is None else path.name


def helm(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, check=False)


def render(binary: Path, *args: str) -> list[dict[str, Any]]:
    done = helm(
        binary, "template", "subnet", str(CHART), "--namespace", "ocr-subnet", "-f", str(REGISTRY_VALUES), *args
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def values_args(path: Path | None) -> list[str]:
    return [] if path is None else ["-f", str(path)]


def find(documents: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in documents if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"{len(matches)} {kind} {name or ''} in the rendered chart"
    return matches[0]


def pod_specs(documents: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in documents:
        path = POD_KINDS.get(doc["kind"])
        if path:
            spec = doc
            for key in path:
                spec = spec[key]
            yield f"{doc['kind']}/{doc['metadata']['name']}", spec


@pytest.mark.parametrize("values", VALUES, ids=values_id)
def test_lint_strict_passes(helm: Path, values: Path | None) -> None:
    done = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART), "-f", str(REGISTRY_VALUES), *values_args(values)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("values", VALUES, ids=values_id)
def test_every_container_is_locked_down(helm: Path, values: Path | None) -> None:
    """Non-root with the images' uid, read-only root filesystem, no capabilities, requests and limits."""
    documents = render(helm, *values_args(values), "--api-versions", MONITORING_API)
    specs = dict(pod_specs(documents))
    assert specs, "no pods rendered"
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == RUN_AS, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"], name


def test_operator_deployment_has_probes_and_runs_as_its_service_account(helm: Path) -> None:
    documents = render(helm)
    deployment = find(documents, "Deployment", "subnet-operator")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(container)
    account = find(documents, "ServiceAccount", "subnet-operator")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    binding = find(documents, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "ocr-subnet"}
    ]
    assert binding["roleRef"]["name"] == find(documents, "ClusterRole")["metadata"]["name"]


def test_rbac_is_exactly_what_the_operator_code_asks_for(helm: Path) -> None:
    assert find(render(helm), "ClusterRole")["rules"] == rbac.rules(clusterwide=True)


@pytest.mark.parametrize("kube_version", ["1.20.0", "1.31.0"])
def test_namespaced_mode_grants_roles_in_the_watched_namespaces_only(helm: Path, kube_version: str) -> None:
    documents = render(helm, "--kube-version", kube_version, "--set", "operator.watchNamespaces={miners-a,miners-b}")
    assert not [d for d in documents if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    # the pre-delete hook's Role stays in the release namespace, whatever the operator watches
    hook = [d["metadata"]["namespace"] for d in documents if d["metadata"]["name"] == "subnet-cleanup"]
    assert hook == ["ocr-subnet"] * 4  # ServiceAccount, Role, RoleBinding, Job
    operator = [d for d in documents if d["metadata"]["name"] == "subnet-operator"]
    roles = [d for d in operator if d["kind"] == "Role"]
    bindings = [d for d in operator if d["kind"] == "RoleBinding"]
    assert [r["metadata"]["namespace"] for r in roles] == ["miners-a", "miners-b"]
    assert [b["metadata"]["namespace"] for b in bindings] == ["miners-a", "miners-b"]
    for role, binding in zip(roles, bindings, strict=True):
        assert role["rules"] == rbac.rules(clusterwide=False)  # kopfpeerings, not clusterkopfpeerings
        ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
        assert binding["roleRef"] == ref
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "subnet-operator", "namespace": "ocr-subnet"}]

    def args(rendered: list[dict[str, Any]]) -> list[str]:
        return find(rendered, "Deployment", "subnet-operator")["spec"]["template"]["spec"]["containers"][0]["args"]

    assert "--namespace=miners-a" in args(documents) and "--namespace=miners-b" in args(documents)
    assert "--all-namespaces" not in args(documents)
    assert "--all-namespaces" in args(render(helm))


def test_namespaced_mode_lints_and_refuses_a_bad_namespace(helm: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120, check=False)

    namespaced = ("-f", str(REGISTRY_VALUES), "--set", "operator.watchNamespaces={miners-a,miners-b}")
    lint = run("lint", "--strict", str(CHART), *namespaced)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    bad = ("-f", str(REGISTRY_VALUES), "--set", "operator.watchNamespaces={Not_A_Namespace}")
    refused = run("template", "subnet", str(CHART), *bad)
    assert refused.returncode != 0
    assert "operator.watchNamespaces.0" in refused.stderr


def test_prometheus_credentials_come_from_secrets_mounted_read_only(helm: Path) -> None:
    auth = "operator.prometheusAuth"
    documents = render(
        helm,
        *("--set", f"{auth}.basicAuthSecret.name=prom-basic", "--set", f"{auth}.caSecret.name=prom-ca"),
        *("--set", f"{auth}.timeoutSeconds=3", "--set", f"{auth}.retries=4"),
    )
    pod = find(documents, "Deployment", "subnet-operator")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    files = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in container["args"] if a.startswith("--prometheus-")}
    assert files == {
        "--prometheus-url": "",
        "--prometheus-username-file": "/etc/ocr-subnet/prometheus/basic/username",
        "--prometheus-password-file": "/etc/ocr-subnet/prometheus/basic/password",
        "--prometheus-ca-file": "/etc/ocr-subnet/prometheus/ca/ca.crt",
        "--prometheus-timeout": "3",
        "--prometheus-retries": "4",
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["prometheus-basic"]["secret"] == {
        "secretName": "prom-basic",
        "items": [{"key": "username", "path": "username"}, {"key": "password", "path": "password"}],
    }
    assert volumes["prometheus-ca"]["secret"]["secretName"] == "prom-ca"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    for name in ("prometheus-basic", "prometheus-ca"):
        assert mounts[name]["readOnly"] is True
        assert files[f"--prometheus-{'ca' if name.endswith('ca') else 'username'}-file"].startswith(
            mounts[name]["mountPath"]
        )
    plain = find(render(helm), "Deployment", "subnet-operator")["spec"]["template"]["spec"]
    assert [v["name"] for v in plain["volumes"]] == ["tmp", "webhook-tls"]


def test_a_token_and_basic_auth_at_once_are_refused(helm: Path) -> None:
    auth = "operator.prometheusAuth"
    done = subprocess.run(
        [
            str(helm),
            "template",
            "subnet",
            str(CHART),
            *("-f", str(REGISTRY_VALUES)),
            *("--set", f"{auth}.bearerTokenSecret.name=t"),
            "--set",
            f"{auth}.basicAuthSecret.name=b",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "set bearerTokenSecret or basicAuthSecret, not both" in done.stderr


def test_images_carry_the_chart_app_version(helm: Path) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"], "Chart.yaml appVersion must follow pyproject's version"
    images = {
        c["image"]
        for _, spec in pod_specs(render(helm, "--set", "localChain.enabled=true"))
        for c in spec["containers"]
    }
    assert images == {f"registry.example.com/ocr/{name}:{chart['appVersion']}" for name in ("operator", "neuron")}


def test_the_registry_is_required_but_for_the_local_demo(helm: Path) -> None:
    done = subprocess.run(
        [str(helm), "template", "subnet", str(CHART)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "images.registry: String length must be greater than or equal to 1" in done.stderr
    local = render(helm, "-f", str(REPO / "examples" / "values-local.yaml"))
    image = find(local, "Deployment", "subnet-operator")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("ocr-subnet/operator:")  # the local build's name: loaded, never pulled


def test_monitoring_objects_follow_the_api_and_the_switch(helm: Path) -> None:
    kinds = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}

    def rendered_kinds(*args: str) -> set[str]:
        return {d["kind"] for d in render(helm, *args)} & kinds

    assert rendered_kinds() == set()  # auto, and this "cluster" does not serve the API
    assert rendered_kinds("--api-versions", MONITORING_API) == kinds
    assert rendered_kinds("--set", "monitoring.enabled=true") == kinds
    assert rendered_kinds("--api-versions", MONITORING_API, "--set", "monitoring.enabled=false") == set()


def test_monitoring_objects_carry_the_rendered_rules_and_scrape_settings(helm: Path) -> None:
    documents = render(helm, "--set", "monitoring.enabled=true", "--set", "monitoring.labels.release=kps")
    assert find(documents, "PrometheusRule")["spec"] == rules.rule_groups()
    pod_monitor = find(documents, "PodMonitor")
    expected = scrape.pod_monitor_spec()
    assert pod_monitor["spec"]["selector"] == expected["selector"]
    assert pod_monitor["spec"]["podMetricsEndpoints"] == [
        {**endpoint, "interval": "30s"} for endpoint in expected["podMetricsEndpoints"]
    ]
    assert pod_monitor["spec"]["namespaceSelector"] == {"any": True}
    service_monitor = find(documents, "ServiceMonitor")
    (endpoint,) = service_monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True
    assert {"targetLabel": "job", "replacement": scrape.OPERATOR_JOB} in endpoint["relabelings"]
    service = find(documents, "Service", "subnet-operator-metrics")
    assert service["metadata"]["labels"].items() >= service_monitor["spec"]["selector"]["matchLabels"].items()
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    pods = find(documents, "Deployment", "subnet-operator")["spec"]["template"]["metadata"]["labels"]
    assert pods.items() >= service["spec"]["selector"].items()
    assert pods["app.kubernetes.io/component"] == scrape.OPERATOR_COMPONENT  # the runbooks select on it
    for kind in ("PodMonitor", "ServiceMonitor", "PrometheusRule"):
        assert find(documents, kind)["metadata"]["labels"]["release"] == "kps"


def test_dashboard_config_map_holds_the_dashboard_with_the_sidecar_label(helm: Path) -> None:
    config_map = find(render(helm), "ConfigMap", "subnet-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["ocr-subnet.json"]) == dashboard.dashboard()


def test_neurons_from_values_default_to_our_images_and_the_local_chain(helm: Path) -> None:
    documents = render(helm, "-f", str(REPO / "examples" / "values-local.yaml"))
    validator = find(documents, "Validator", "validator")
    chain = find(documents, "Service", "subnet-chain")
    port = chain["spec"]["ports"][0]["port"]
    assert validator["spec"]["chain"] == {"endpoint": f"http://subnet-chain.ocr-subnet.svc:{port}", "netuid": 1}
    assert validator["spec"]["image"].startswith("ocr-subnet/neuron:")
    [job] = [d for d in documents if d["kind"] == "Job" and d["metadata"]["name"].startswith("subnet-chain-register")]
    secrets = {v["secret"]["secretName"] for v in job["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    local = yaml.safe_load((REPO / "examples" / "values-local.yaml").read_text())["localChain"]
    assert secrets == {r["secretName"] for r in local["registrations"]}
    miner = find(render(helm, "-f", str(REPO / "examples" / "values-finney.yaml")), "Miner", "miner-1")
    assert miner["spec"]["triton"]["image"].startswith("registry.example.com/ocr/triton:")  # images.registry
    assert miner["spec"]["chain"] == {"network": "finney", "netuid": 1}  # given chains stay as they are


def cli_argvs(documents: list[dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    """Every `ocr-subnet` command line the chart runs: container args (the images' entry point is
    `ocr-subnet`) and the `ocr-subnet` lines of shell scripts, with `$(POD_IP)` filled in."""
    for name, spec in pod_specs(documents):
        for container in spec["containers"]:
            command, args = container.get("command"), container.get("args", [])
            if command is None:
                yield name, [a.replace("$(POD_IP)", "127.0.0.1") for a in args]
            elif command[:2] == ["/bin/sh", "-ec"]:
                script = args[0].replace("\\\n", " ")
                for line in script.splitlines():
                    if line.strip().startswith("ocr-subnet "):
                        yield name, shlex.split(line)[1:]
            elif command[:2] == ["python", "-c"]:
                compile(args[0], name, "exec")  # the helm test's check at least parses


# Options only some values turn on: namespaced mode and Prometheus behind authentication.
OPTIONAL_ARGS = (
    *("--set", "operator.watchNamespaces={miners-a,miners-b}"),
    *("--set", "operator.prometheusAuth.basicAuthSecret.name=prom-basic"),
    *("--set", "operator.prometheusAuth.caSecret.name=prom-ca"),
)


@pytest.mark.parametrize("optional", [(), OPTIONAL_ARGS], ids=["plain", "namespaced-auth"])
@pytest.mark.parametrize("values", VALUES, ids=values_id)
def test_every_command_the_chart_runs_is_accepted_by_the_cli(
    helm: Path, values: Path | None, optional: tuple[str, ...]
) -> None:
    """Options, types and ranges are checked by the CLI's own parser, without running anything."""
    documents = render(helm, *values_args(values), "--set", "localChain.enabled=true", *optional)
    root = typer.main.get_command(app)
    checked = 0
    for name, argv in cli_argvs(documents):
        command: click.Command = root
        words = list(argv)
        while isinstance(command, click.Group):
            command = command.commands[words.pop(0)]
        try:
            command.make_context(argv[0], words)
        except click.ClickException as exc:
            pytest.fail(f"{name}: `ocr-subnet {shlex.join(argv)}` is refused: {exc.format_message()}")
        checked += 1
    assert checked >= 2


def test_the_charts_pull_secrets_reach_the_pods_the_operator_makes(helm: Path) -> None:
    documents = render(helm, "--set", "images.pullSecrets[0].name=regcred")
    operator = find(documents, "Deployment", "subnet-operator")["spec"]["template"]["spec"]
    assert operator["imagePullSecrets"] == [{"name": "regcred"}]
    assert "--image-pull-secret=regcred" in operator["containers"][0]["args"]


def test_network_policies_are_off_by_default_and_on_in_the_examples(helm: Path) -> None:
    assert not [d for d in render(helm, "--set", "localChain.enabled=true") if d["kind"] == "NetworkPolicy"]
    documents = render(helm, "-f", str(REPO / "examples" / "values-local.yaml"))
    chain = find(documents, "NetworkPolicy", "subnet-chain")["spec"]
    assert chain["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "local-chain"
    [allowed] = chain["ingress"]
    assert {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ocr-subnet"}}} in (
        allowed["from"]
    )
    operator = find(documents, "NetworkPolicy", "subnet-operator")["spec"]
    metrics, webhook = operator["ingress"]
    assert metrics["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert metrics["ports"] == [{"protocol": "TCP", "port": 9102}]
    assert "from" not in webhook  # the API server calls from outside the pod network
    args = find(documents, "Deployment", "subnet-operator")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--network-policies" in args and "--monitoring-namespace=monitoring" in args
