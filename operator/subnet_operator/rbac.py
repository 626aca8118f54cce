"""The operator's RBAC: exactly what its handlers and kopf call, and nothing else.

`rules()` is the one source of truth; `ocr-subnet operator rbac --out charts/subnet/rbac/operator-rbac.yaml`
renders the chart's copy (a unit test fails on drift), `--watch-namespace watched-namespace --out
charts/subnet/rbac/operator-rbac-namespaced.yaml` the namespaced mode's, and the integration tests run the
operator with a ServiceAccount token bound to exactly these rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from subnet_operator import api

Manifest = dict[str, Any]
CHART_NAMESPACE = "ocr-subnet"


def _rule(group: str, resources: Sequence[str], verbs: Sequence[str]) -> Manifest:
    return {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}


def rules(*, clusterwide: bool) -> list[Manifest]:
    """Rules for an operator serving every namespace (a ClusterRole) or some (a Role in each)."""
    plurals = [kind.plural for kind in api.KINDS]
    peering = "clusterkopfpeerings" if clusterwide else "kopfpeerings"
    return [
        # kopf watches the resources, patches annotations/finalizers on them and status via the subresource.
        _rule(api.GROUP, plurals, ["get", "list", "watch", "patch"]),  # get: drift repair reads the owner
        _rule(api.GROUP, [f"{p}/status" for p in plurals], ["get", "patch"]),
        # ownerReferences with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on.
        _rule(api.GROUP, [f"{p}/finalizers" for p in plurals], ["update"]),
        # Server-side apply is a patch, and a create when the object is new; list/watch feed the index of
        # rollouts and the drift repair (a deleted or hand-edited child is re-applied); delete: a backend
        # switch drops the Triton objects.
        _rule("apps", ["deployments"], ["get", "list", "watch", "create", "patch", "delete"]),
        _rule("", ["services"], ["list", "watch", "create", "patch", "delete"]),
        _rule("", ["persistentvolumeclaims"], ["list", "watch", "create"]),
        # --network-policies applies one per component; without it, deletes those an earlier run made.
        _rule("networking.k8s.io", ["networkpolicies"], ["create", "patch", "delete"]),
        # Validator.spec.gateway.ingress; deleted when the gateway or its Ingress is turned off.
        _rule("networking.k8s.io", ["ingresses"], ["create", "patch", "delete"]),
        _rule("", ["events"], ["create"]),
        _rule("kopf.dev", [peering], ["get", "list", "watch", "patch", "create"]),
    ]


def manifests(
    namespace: str = CHART_NAMESPACE, name: str = api.OPERATOR_NAME, watch_namespaces: Sequence[str] = ()
) -> list[Manifest]:
    """ServiceAccount, role(s) and binding(s): a ClusterRole when `watch_namespaces` is empty, else a
    Role and RoleBinding in each watched namespace."""
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    group = "rbac.authorization.k8s.io"
    if not watch_namespaces:
        return [
            account,
            {
                "apiVersion": f"{group}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": rules(clusterwide=True),
            },
            {
                "apiVersion": f"{group}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": group, "kind": "ClusterRole", "name": name},
                "subjects": [subject],
            },
        ]
    per_namespace: list[Manifest] = []
    for watched in watch_namespaces:
        meta = {"name": name, "namespace": watched}
        per_namespace += [
            {"apiVersion": f"{group}/v1", "kind": "Role", "metadata": meta, "rules": rules(clusterwide=False)},
            {
                "apiVersion": f"{group}/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "roleRef": {"apiGroup": group, "kind": "Role", "name": name},
                "subjects": [subject],
            },
        ]
    return [account, *per_namespace]


HEADER = (
    "# Generated from subnet_operator/rbac.py by `ocr-subnet operator rbac [--watch-namespace NS] --out <this file>`"
    "; do not edit.\n"
)
# The chart's copy of the namespaced manifests: it takes the Role's rules into each of operator.watchNamespaces.
CHART_WATCHED = "watched-namespace"


def render(documents: Sequence[Manifest]) -> str:
    return HEADER + yaml.safe_dump_all(list(documents), sort_keys=False, width=120)
