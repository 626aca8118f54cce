"""`ocr-subnet operator`: run the operator, and render the CRDs and RBAC rules the chart ships and the
autoscaler examples."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import typer

operator_app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

CHART_CRDS = Path("charts/subnet/crds")
CHART_RBAC = Path("charts/subnet/rbac/operator-rbac.yaml")
EXAMPLE_MINERS = Path("examples/miner.yaml")


@operator_app.command("run")
def run(
    namespace: list[str] = typer.Option([], "--namespace", "-n", help="serve this namespace (repeatable)"),
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A", help="serve every namespace (the default)"),
    kubeconfig: str | None = typer.Option(None, help="kubeconfig file; default: in-cluster, then $KUBECONFIG"),
    prometheus_url: str = typer.Option("http://127.0.0.1:9090", help="Prometheus for health and scaling; '' disables"),
    prometheus_bearer_token_file: Path | None = typer.Option(
        None, help="file holding a bearer token for Prometheus (a mounted Secret key), read at each query"
    ),
    prometheus_username_file: Path | None = typer.Option(None, help="file holding Prometheus's basic-auth username"),
    prometheus_password_file: Path | None = typer.Option(None, help="file holding Prometheus's basic-auth password"),
    prometheus_ca_file: Path | None = typer.Option(None, help="CA bundle Prometheus's TLS certificate is checked with"),
    prometheus_timeout: float = typer.Option(5.0, min=0.1, help="seconds one Prometheus request may take"),
    prometheus_retries: int = typer.Option(2, min=0, max=10, help="further attempts at a failed Prometheus request"),
    metrics_host: str = typer.Option("127.0.0.1", help="address the operator's /metrics binds to"),
    metrics_port: int = typer.Option(9102, min=0, max=65535, help="0 disables /metrics"),
    liveness_endpoint: str = typer.Option("http://127.0.0.1:8080/healthz", help="kopf's liveness URL; '' disables"),
    health_interval: float = typer.Option(15.0, min=0.1, help="seconds between health evaluations of a resource"),
    scale_interval: float = typer.Option(15.0, min=0.1, help="seconds between scaling decisions of a Miner"),
    standalone: bool = typer.Option(False, help="ignore peering: only for a single replica"),
    priority: int | None = typer.Option(
        None, help="peering priority; random by default, so one replica works and the rest stand by"
    ),
    workers: int = typer.Option(8, min=1, max=256, help="threads running handlers"),
    image_pull_secret: list[str] = typer.Option(
        [], help="Secret every pod the operator makes pulls its images with (repeatable), e.g. the chart's"
    ),
    network_policies: bool = typer.Option(
        False, help="a NetworkPolicy per pod kind: Triton for its miner only, metrics for --monitoring-namespace"
    ),
    monitoring_namespace: list[str] = typer.Option(
        ["monitoring"], help="namespace whose pods may scrape metrics under --network-policies (repeatable)"
    ),
    webhook_host: str = typer.Option("0.0.0.0", help="address the admission webhook binds to"),
    webhook_port: int = typer.Option(0, min=0, max=65535, help="serve the validating admission webhook; 0: off"),
    webhook_cert: str | None = typer.Option(None, help="PEM serving certificate of the webhook (with --webhook-key)"),
    webhook_key: str | None = typer.Option(None, help="PEM private key of the webhook's certificate"),
    log_level: str = typer.Option("INFO"),
) -> None:
    """Reconcile Validator and Miner resources until SIGINT/SIGTERM."""
    from ocr_subnet.logs import configure_logging

    from subnet_operator.context import OperatorConfig
    from subnet_operator.prometheus import PrometheusAccess
    from subnet_operator.runner import run as run_operator

    if namespace and all_namespaces:
        raise typer.BadParameter("choose --namespace or --all-namespaces, not both")
    if webhook_port and not (webhook_cert and webhook_key):
        raise typer.BadParameter("--webhook-port needs --webhook-cert and --webhook-key (the API server calls HTTPS)")
    try:
        access = PrometheusAccess(
            timeout_s=prometheus_timeout,
            retries=prometheus_retries,
            bearer_token_file=prometheus_bearer_token_file,
            username_file=prometheus_username_file,
            password_file=prometheus_password_file,
            ca_file=prometheus_ca_file,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    configure_logging(log_level.upper())
    config = OperatorConfig(
        namespaces=tuple(namespace),
        kubeconfig=kubeconfig,
        prometheus_url=prometheus_url or None,
        prometheus_access=access,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        liveness_endpoint=liveness_endpoint or None,
        health_interval_s=health_interval,
        scale_interval_s=scale_interval,
        standalone=standalone,
        priority=priority if priority is not None else random.SystemRandom().randint(1, 2**31 - 1),
        workers=workers,
        image_pull_secrets=tuple(image_pull_secret),
        network_policies=network_policies,
        monitoring_namespaces=tuple(monitoring_namespace),
        webhook_host=webhook_host,
        webhook_port=webhook_port,
        webhook_cert=webhook_cert,
        webhook_key=webhook_key,
    )
    run_operator(config)


@operator_app.command("cleanup")
def cleanup(
    namespace: str = typer.Option(..., "--namespace", "-n", help="namespace of the resources"),
    selector: str = typer.Option(..., help="label selector of the resources, e.g. app.kubernetes.io/instance=subnet"),
    timeout: float = typer.Option(120.0, min=1.0, help="seconds the operator gets to let them go"),
    kubeconfig: str | None = typer.Option(None, help="kubeconfig file; default: in-cluster, then $KUBECONFIG"),
    json_output: bool = typer.Option(False, "--json", help="print the outcome as JSON"),
) -> None:
    """Delete Validators and Miners and wait until they are gone (Helm's pre-delete hook runs this)."""
    import dataclasses
    import json

    from kubernetes import client
    from rich.console import Console

    from subnet_operator.cleanup import cleanup as run_cleanup
    from subnet_operator.kube import load_configuration

    custom = client.CustomObjectsApi(client.ApiClient(load_configuration(kubeconfig)))
    outcome = run_cleanup(custom, namespace, selector, timeout)
    if json_output:
        typer.echo(json.dumps(dataclasses.asdict(outcome)))
        return
    console = Console()
    console.print(f"deleted: {', '.join(outcome.deleted) or 'nothing'}")
    if outcome.released:
        console.print(f"[yellow]released without the operator[/]: {', '.join(outcome.released)}")


def _write_or_check(files: dict[Path, str], check: bool, command: str) -> None:
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if check:
        if stale:
            typer.echo(f"out of date: {', '.join(map(str, stale))}; regenerate with `{command}`", err=True)
            raise typer.Exit(1)
        return
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        typer.echo(f"wrote {path}")


@operator_app.command("crds")
def crds(
    out: Path | None = typer.Option(None, help=f"write one file per CRD into this folder (the chart's: {CHART_CRDS})"),
    check: bool = typer.Option(False, help="exit 1 if the files in --out differ from what would be written"),
) -> None:
    """Print the CRDs as YAML, or write them into --out."""
    from subnet_operator.crds import all_crds, render

    rendered = {name: render(manifest) for name, manifest in all_crds().items()}
    if out is None:
        sys.stdout.write("---\n".join(rendered.values()))
        return
    _write_or_check(
        {out / name: text for name, text in rendered.items()}, check, f"ocr-subnet operator crds --out {out}"
    )


@operator_app.command("rbac")
def rbac(
    out: Path | None = typer.Option(None, help=f"write the manifests to this file (the chart's: {CHART_RBAC})"),
    check: bool = typer.Option(False, help="exit 1 if --out differs from what would be written"),
    namespace: str = typer.Option("ocr-subnet", help="namespace of the operator's ServiceAccount"),
    watch_namespace: list[str] = typer.Option([], help="grant Roles in these namespaces only (default: a ClusterRole)"),
) -> None:
    """Print the operator's ServiceAccount and RBAC as YAML, or write them to --out."""
    from subnet_operator.rbac import manifests, render

    text = render(manifests(namespace, watch_namespaces=watch_namespace))
    if out is None:
        sys.stdout.write(text)
        return
    _write_or_check({out: text}, check, f"ocr-subnet operator rbac --out {out}")


@operator_app.command("autoscaling")
def autoscaling(
    miner_file: Path = typer.Option(EXAMPLE_MINERS, help="YAML holding the Miner (other documents are skipped)"),
    name: str | None = typer.Option(None, help="the Miner's name; default: the file's first Miner"),
    namespace: str = typer.Option("ocr-subnet", help="namespace of the Miner"),
    prometheus_url: str = typer.Option(
        "http://prometheus-operated.monitoring:9090", help="Prometheus the KEDA ScaledObject asks"
    ),
    out: Path | None = typer.Option(None, help="write the files into this folder (the repository's: examples)"),
    check: bool = typer.Option(False, help="exit 1 if the files in --out differ from what would be written"),
) -> None:
    """An HPA (with its prometheus-adapter rule) and a KEDA ScaledObject for a Miner in external scaling mode."""
    import yaml

    from subnet_operator import api
    from subnet_operator.autoscaling import example_files
    from subnet_operator.crds import miner_spec
    from subnet_operator.schema import apply_defaults

    miners = [d for d in yaml.safe_load_all(miner_file.read_text()) if d and d.get("kind") == api.MINER.kind]
    chosen = next((m for m in miners if name in (None, m["metadata"]["name"])), None)
    if chosen is None or "triton" not in chosen["spec"]:
        wanted = f"Miner {name}" if name else "Miner"
        typer.echo(f"{miner_file} has no {wanted} with a spec.triton section", err=True)
        raise typer.Exit(2)
    triton = apply_defaults(miner_spec(), chosen["spec"])["triton"]
    files = example_files(chosen["metadata"]["name"], namespace, triton, prometheus_url)
    if out is None:
        sys.stdout.write("---\n".join(files.values()))
        return
    _write_or_check(
        {out / file: text for file, text in files.items()}, check, f"ocr-subnet operator autoscaling --out {out}"
    )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    app.add_typer(operator_app, name="operator")
