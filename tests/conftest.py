"""Shared fixtures: a Kubernetes cluster (local control plane or an existing one), namespaces, Prometheus, helm.

An existing cluster (the real node of scripts/node.sh, kind, a CI runner's) replaces the local one when
OCR_SUBNET_KUBECONFIG is set, or OCR_SUBNET_USE_EXISTING_CLUSTER=1 with $KUBECONFIG; tests marked `e2e`
run only then (tests/e2e/conftest.py says what else they need).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.cluster import Cluster, control_plane_binaries, existing_cluster, existing_kubeconfig, local_cluster
from tests.support.helm import ensure_helm
from tests.support.prometheus import Prometheus, start_prometheus


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if existing_kubeconfig() is None:
        skip = pytest.mark.skip(reason="needs a real cluster with our images: run `make e2e` (see tests/e2e)")
        for item in items:
            if item.get_closest_marker("e2e") is not None:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def k8s_cluster(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Kubernetes cluster for the session: the existing one if configured, else a local 1.20 control plane."""
    kubeconfig = existing_kubeconfig()
    if kubeconfig is not None:
        yield existing_cluster(kubeconfig, tmp_path_factory.mktemp("k8s"))
        return
    # A cold build of the binaries takes ~9 minutes: let its progress reach the terminal.
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        bin_dir = control_plane_binaries()
    with local_cluster(bin_dir) as cluster:
        yield cluster


@pytest.fixture
def k8s_namespace(k8s_cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, deleted afterwards (without waiting for it to go)."""
    core = client.CoreV1Api(k8s_cluster.api)
    prefix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-")
    namespace = core.create_namespace({"metadata": {"generateName": f"{prefix}-"}}).metadata.name
    yield namespace
    try:
        core.delete_namespace(namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[Mapping[str, Any]], Prometheus]]:
    """Start real Prometheus servers with a given config (see `scrape_config`); all stop after the test."""
    started: list[Prometheus] = []

    def start(config: Mapping[str, Any]) -> Prometheus:
        server = start_prometheus(tmp_path / f"prometheus-{len(started)}", config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def helm() -> Path:
    """The Helm 3.10.1 binary (installed into ~/.cache on first use)."""
    return ensure_helm()
