"""`ocr-subnet operator`: the generated chart files stay in sync, and the commands render and check them."""

from __future__ import annotations

from pathlib import Path

import yaml
from ocr_subnet.cli import app
from subnet_operator import api, rbac
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
CHART_RBAC = REPO / "charts" / "subnet" / "rbac" / "operator-rbac.yaml"
CHART_RBAC_NAMESPACED = REPO / "charts" / "subnet" / "rbac" / "operator-rbac-namespaced.yaml"
runner = CliRunner()


def test_the_committed_rbac_is_exactly_what_the_python_renders() -> None:
    assert CHART_RBAC.read_text() == rbac.render(rbac.manifests()), (
        "regenerate with `ocr-subnet operator rbac --out charts/subnet/rbac/operator-rbac.yaml`"
    )
    namespaced = rbac.render(rbac.manifests(watch_namespaces=[rbac.CHART_WATCHED]))
    assert CHART_RBAC_NAMESPACED.read_text() == namespaced, (
        f"regenerate with `ocr-subnet operator rbac --watch-namespace {rbac.CHART_WATCHED} "
        f"--out charts/subnet/rbac/{CHART_RBAC_NAMESPACED.name}`"
    )


def test_crds_prints_every_crd() -> None:
    result = runner.invoke(app, ["operator", "crds"])
    assert result.exit_code == 0, result.output
    names = [doc["metadata"]["name"] for doc in yaml.safe_load_all(result.output)]
    assert names == [
        "validators.subnet.ocr.dev",
        "miners.subnet.ocr.dev",
        "kopfpeerings.kopf.dev",
        "clusterkopfpeerings.kopf.dev",
    ]


def test_check_passes_on_the_chart_and_fails_on_drift(tmp_path: Path) -> None:
    assert runner.invoke(app, ["operator", "crds", "--out", str(REPO / "charts/subnet/crds"), "--check"]).exit_code == 0
    assert runner.invoke(app, ["operator", "crds", "--out", str(tmp_path)]).exit_code == 0
    (tmp_path / "miners.yaml").write_text("# edited by hand\n")
    drifted = runner.invoke(app, ["operator", "crds", "--out", str(tmp_path), "--check"])
    assert drifted.exit_code == 1
    assert "miners.yaml" in drifted.output


def test_rbac_grants_a_cluster_role_or_roles_in_the_watched_namespaces() -> None:
    cluster = list(yaml.safe_load_all(runner.invoke(app, ["operator", "rbac", "--namespace", "ops"]).output))
    assert [d["kind"] for d in cluster] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    assert cluster[2]["subjects"] == [{"kind": "ServiceAccount", "name": api.OPERATOR_NAME, "namespace": "ops"}]
    result = runner.invoke(app, ["operator", "rbac", "--watch-namespace", "a", "--watch-namespace", "b"])
    scoped = list(yaml.safe_load_all(result.output))
    assert [(d["kind"], d["metadata"].get("namespace")) for d in scoped[1:]] == [
        ("Role", "a"),
        ("RoleBinding", "a"),
        ("Role", "b"),
        ("RoleBinding", "b"),
    ]
    assert {
        "apiGroups": ["kopf.dev"],
        "resources": ["kopfpeerings"],
        "verbs": ["get", "list", "watch", "patch", "create"],
    } in scoped[1]["rules"]


def test_rules_never_grant_secrets_or_wildcards() -> None:
    for clusterwide in (True, False):
        for rule in rbac.rules(clusterwide=clusterwide):
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert "secrets" not in rule["resources"]


def test_run_refuses_both_scopes_at_once() -> None:
    result = runner.invoke(app, ["operator", "run", "--namespace", "a", "--all-namespaces"])
    assert result.exit_code == 2
    assert "not both" in result.output
