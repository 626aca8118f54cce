"""`ocr-subnet monitoring`: render the alert rules, dashboard and scrape settings the Helm chart ships."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_OUT = Path("charts/subnet/files")


def render(
    out: Path = typer.Option(DEFAULT_OUT, help="folder to write into (the chart's files/)"),
    check: bool = typer.Option(False, "--check", help="write nothing; exit 1 if the files differ from a fresh render"),
) -> None:
    """Write alert-rules.yaml, grafana-dashboard.json and scrape.yaml, built from metric_names."""
    from subnet_operator.monitoring import render as rendering

    if check:
        stale = rendering.stale(out)
        if stale:
            typer.echo(f"out of date in {out}: {', '.join(stale)}; run `ocr-subnet monitoring render`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out}: up to date")
        return
    for path in rendering.write(out):
        typer.echo(str(path))


def prometheus_config(
    out: Path = typer.Option(..., help="folder for prometheus.yml and alert-rules.yaml"),
    targets_file: Path | None = typer.Option(
        None, help="discover pods from this file (`ocr-subnet monitoring discover`) instead of kubernetes_sd"
    ),
    interval: str = typer.Option("30s", help="scrape and rule evaluation interval"),
) -> None:
    """Write a plain Prometheus config that scrapes what the chart's PodMonitor and ServiceMonitor do, with the
    alert rules: for a Prometheus without the Prometheus Operator, inside the cluster or beside it."""
    import yaml

    from subnet_operator.monitoring import render as rendering
    from subnet_operator.monitoring import scrape

    discovery = None
    if targets_file is not None:
        discovery = {"file_sd_configs": [{"files": [str(targets_file.resolve())], "refresh_interval": interval}]}
    out.mkdir(parents=True, exist_ok=True)
    rules_path = out / rendering.RULES_FILE
    rules_path.write_text(rendering.rendered()[rendering.RULES_FILE])
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules_path.resolve())],
        "scrape_configs": scrape.prometheus_scrape_configs(interval, discovery),
    }
    config_path = out / "prometheus.yml"
    config_path.write_text(rendering.HEADER + yaml.safe_dump(config, sort_keys=False, width=10_000))
    typer.echo(str(config_path))


def discover(
    out: Path = typer.Option(..., help="the file_sd targets file to keep up to date"),
    interval_s: float = typer.Option(5.0, "--interval", help="seconds between two listings of the pods"),
    kubeconfig: Path | None = typer.Option(None, help="default: in-cluster, else $KUBECONFIG"),
) -> None:
    """Keep a Prometheus file_sd targets file listing every pod's named ports, with kubernetes_sd's labels: pod
    discovery for a Prometheus built without it (Debian's). Runs until interrupted."""
    import json
    import os
    import time

    from kubernetes import client, config

    from subnet_operator.monitoring import scrape

    if kubeconfig is not None:
        config.load_kube_config(str(kubeconfig))
    else:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    written = None
    while True:
        pods = api.sanitize_for_serialization(core.list_pod_for_all_namespaces().items)
        content = json.dumps(scrape.file_sd_groups(pods), indent=1, sort_keys=True)
        if content != written:
            partial = out.with_name(out.name + ".tmp")
            partial.write_text(content)
            os.replace(partial, out)  # Prometheus never reads half a file
            written = content
        time.sleep(interval_s)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    monitoring_app = typer.Typer(no_args_is_help=True, help=__doc__)
    monitoring_app.command("render")(render)
    monitoring_app.command("prometheus-config")(prometheus_config)
    monitoring_app.command("discover")(discover)
    app.add_typer(monitoring_app, name="monitoring")
