"""`ocr-subnet operator cleanup`: delete a release's Validators and Miners while the operator still runs.

Helm's pre-delete hook runs it, so `helm uninstall` alone leaves nothing behind: the operator lets each
resource go (its finalizer) and the garbage collector takes what it owned. Resources the operator does
not release in time (it is scaled to zero, or crashing) have its finalizer removed, so none is left
Terminating forever once the operator is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.client.rest import ApiException

from subnet_operator import api


@dataclass
class Outcome:
    deleted: list[str] = field(default_factory=list)  # kind/name
    released: list[str] = field(default_factory=list)  # finalizer removed after the timeout


def _names(custom: client.CustomObjectsApi, namespace: str, selector: str) -> list[tuple[api.Kind, str]]:
    found = []
    for kind in api.KINDS:
        listed = custom.list_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, kind.plural, label_selector=selector
        )
        found += [(kind, item["metadata"]["name"]) for item in listed["items"]]
    return found


def _ignore_missing(call: Callable[[], object]) -> None:
    try:
        call()
    except ApiException as exc:
        if exc.status != 404:
            raise


def _wait_gone(
    custom: client.CustomObjectsApi, namespace: str, selector: str, timeout_s: float, poll_s: float
) -> list[tuple[api.Kind, str]]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = _names(custom, namespace, selector)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(poll_s)


def cleanup(
    custom: client.CustomObjectsApi, namespace: str, selector: str, timeout_s: float, poll_s: float = 1.0
) -> Outcome:
    """Delete every Validator and Miner in `namespace` matching `selector`, and wait until they are gone."""
    outcome = Outcome()
    for kind, name in _names(custom, namespace, selector):
        _ignore_missing(
            lambda k=kind, n=name: custom.delete_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, k.plural, n
            )
        )
        outcome.deleted.append(f"{kind.kind}/{name}")
    for kind, name in _wait_gone(custom, namespace, selector, timeout_s, poll_s):
        body = custom.get_namespaced_custom_object(api.GROUP, api.VERSION, namespace, kind.plural, name)
        finalizers = [f for f in body["metadata"].get("finalizers") or [] if f != api.FINALIZER]
        patch = {"metadata": {"finalizers": finalizers or None, "resourceVersion": body["metadata"]["resourceVersion"]}}
        _ignore_missing(
            lambda k=kind, n=name, p=patch: custom.patch_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, k.plural, n, p
            )
        )
        outcome.released.append(f"{kind.kind}/{name}")
    left = _wait_gone(custom, namespace, selector, timeout_s, poll_s)
    if left:
        names = ", ".join(f"{kind.kind}/{name}" for kind, name in left)
        raise RuntimeError(f"still there after {timeout_s:g}s and their finalizer removed: {names}")
    return outcome
