"""`ocr-subnet operator cleanup` (the chart's pre-delete hook) with no operator to let resources go: after
its timeout it removes the operator's finalizer, so nothing stays Terminating; other resources stay."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from ocr_subnet.local.up import ocr_subnet_command
from subnet_operator import api

from tests.integration.operator_harness import Resources, install_crds, miner_manifest, validator_manifest
from tests.support.cluster import Cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_cleanup_releases_what_no_operator_lets_go_and_leaves_other_resources_alone(
    k8s_cluster: Cluster, k8s_namespace: str
) -> None:
    install_crds(k8s_cluster)
    resources = Resources(k8s_cluster, k8s_namespace)
    miner, validator = miner_manifest("m1"), validator_manifest("v1")
    for manifest in (miner, validator):  # as the operator leaves them: its finalizer on
        manifest["metadata"].update(labels={"app.kubernetes.io/instance": "rel"}, finalizers=[api.FINALIZER])
    resources.apply(miner, validator, miner_manifest("mine"))  # "mine" is not the release's
    done = subprocess.run(
        [
            *ocr_subnet_command(),
            *("operator", "cleanup", "-n", k8s_namespace),
            *("--selector", "app.kubernetes.io/instance=rel", "--timeout", "2", "--json"),
        ],
        env={**os.environ, "KUBECONFIG": str(k8s_cluster.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert sorted(outcome["deleted"]) == sorted(outcome["released"]) == ["Miner/m1", "Validator/v1"]
    assert resources.get(api.MINER, "m1") is None and resources.get(api.VALIDATOR, "v1") is None
    assert resources.get(api.MINER, "mine") is not None
