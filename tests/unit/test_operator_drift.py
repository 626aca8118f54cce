"""What counts as drift of an owned object, and how reconcile retries back off."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from subnet_operator import api, drift
from subnet_operator.builders import validator
from subnet_operator.builders.common import Owner
from subnet_operator.handlers import reconcile
from subnet_operator.handlers.common import defaulted
from subnet_operator.metrics import OperatorMetrics

OWNER = {"apiVersion": api.API_VERSION, "kind": "Miner", "name": "m1", "uid": "u1", "controller": True}


def entry(manager: str, time: str, *fields: str) -> dict[str, Any]:
    return {"manager": manager, "operation": "Update", "time": time, "fieldsV1": {f: {} for f in fields}}


def test_the_controller_is_the_owning_validator_or_miner() -> None:
    assert drift.controller_of("Deployment", {"ownerReferences": [OWNER]}) == drift.OwnerRef("Miner", "m1", "u1")
    assert drift.controller_of("Deployment", {"ownerReferences": [{**OWNER, "controller": False}]}) is None
    assert drift.controller_of("Deployment", {"ownerReferences": [{**OWNER, "kind": "ReplicaSet"}]}) is None
    assert drift.controller_of("Deployment", {"ownerReferences": [{**OWNER, "apiVersion": "apps/v1"}]}) is None
    assert drift.controller_of("Deployment", {}) is None


def test_a_retained_state_claim_names_its_validator_by_its_labels() -> None:
    """persistence.retain leaves the claim without an owner reference; whichever Validator holds the name
    takes it up, so its deletion is still repaired."""
    owner = Owner("Validator", "v1", "ns", "u1")
    claim = validator.state_claim(owner, defaulted(api.VALIDATOR, {"persistence": {"retain": True}}))
    assert "ownerReferences" not in claim["metadata"]
    assert drift.controller_of("PersistentVolumeClaim", claim["metadata"]) == drift.OwnerRef("Validator", "v1", None)
    # the same labels on another kind, or on a claim of another name, name no owner
    assert drift.controller_of("Service", claim["metadata"]) is None
    assert drift.controller_of("PersistentVolumeClaim", {**claim["metadata"], "name": "other"}) is None


def test_a_deletion_is_always_drift_and_the_initial_listing_never() -> None:
    assert drift.drifted("DELETED", "Deployment", {}) == "deleted"
    assert (
        drift.drifted(None, "Deployment", {"managedFields": [entry("kubectl-edit", "2026-01-01T00:00:09Z", "f:spec")]})
        is None
    )


def test_a_claim_is_only_ever_created_so_only_its_deletion_is_drift() -> None:
    bound = {"managedFields": [entry("kube-controller-manager", "2026-01-01T00:00:09Z", "f:metadata", "f:spec")]}
    assert drift.drifted("MODIFIED", "PersistentVolumeClaim", bound) is None  # volumeName set on binding
    assert drift.drifted("MODIFIED", "Service", bound) == "edited"
    assert drift.drifted("DELETED", "PersistentVolumeClaim", bound) == "deleted"


def test_a_hand_edit_of_the_spec_is_drift() -> None:
    fields = [
        entry(api.FIELD_MANAGER, "2026-01-01T00:00:01Z", "f:metadata", "f:spec"),
        entry("kube-controller-manager", "2026-01-01T00:00:20Z", "f:metadata", "f:status"),
        entry("kubectl-edit", "2026-01-01T00:00:09Z", "f:spec"),
    ]
    assert drift.drifted("MODIFIED", "Deployment", {"managedFields": fields}) == "edited"


def test_status_updates_and_the_operators_own_writes_are_not_drift() -> None:
    ours = [
        entry("kubectl-edit", "2026-01-01T00:00:01Z", "f:spec"),
        entry(api.FIELD_MANAGER, "2026-01-01T00:00:05Z", "f:metadata", "f:spec"),
        entry(api.SCALER_FIELD_MANAGER, "2026-01-01T00:00:07Z", "f:spec"),
        entry("kube-controller-manager", "2026-01-01T00:00:20Z", "f:metadata", "f:status"),
    ]
    assert drift.drifted("MODIFIED", "Deployment", {"managedFields": ours}) is None
    assert drift.drifted("MODIFIED", "Deployment", {"managedFields": ours[-1:]}) is None
    assert drift.drifted("MODIFIED", "Deployment", {}) is None


def test_a_write_in_the_same_second_as_ours_still_counts() -> None:
    fields = [
        entry(api.FIELD_MANAGER, "2026-01-01T00:00:05Z", "f:spec"),
        entry("kubectl", "2026-01-01T00:00:05Z", "f:spec"),
    ]
    assert drift.drifted("MODIFIED", "Deployment", {"managedFields": fields}) == "edited"


def test_an_edit_that_survives_a_re_apply_is_not_repaired_again_at_the_same_generation() -> None:
    """A field the operator does not own (an added env var, say) stays after the re-apply; status updates of
    that generation must not each cost another re-apply."""
    edited = {"generation": 7, "managedFields": [entry("kubectl-set", "2026-01-01T00:00:09Z", "f:spec")]}
    assert drift.drifted("MODIFIED", "Deployment", edited) == "edited"
    assert drift.drifted("MODIFIED", "Deployment", edited, repaired_generation=7) is None
    assert drift.drifted("MODIFIED", "Deployment", {**edited, "generation": 8}, repaired_generation=7) == "edited"
    assert drift.drifted("DELETED", "Deployment", edited, repaired_generation=7) == "deleted"


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    delays = [reconcile.retry_delay(n) for n in range(12)]
    assert delays[:4] == [2.0, 4.0, 8.0, 16.0]
    assert delays == sorted(delays)
    assert max(delays) == reconcile.RETRY_CAP_S == reconcile.retry_delay(10_000)


@pytest.mark.parametrize(("retry", "delay"), [(0, 2.0), (3, 16.0), (20, 300.0)])
def test_a_failed_reconcile_asks_kopf_for_the_backed_off_delay(retry: int, delay: float) -> None:
    body = {"metadata": {"namespace": "ns", "name": "m1", "generation": 1}}
    metrics = OperatorMetrics()
    patch = kopf.Patch()
    with (
        pytest.raises(kopf.TemporaryError) as raised,
        reconcile.tracked(SimpleNamespace(metrics=metrics), "Miner", body, patch, retry),
    ):
        raise ConnectionError("the API server went away")
    assert raised.value.delay == delay
    assert patch.status["reconcileError"] == "the API server went away"
    assert metrics.reconciles.labels("Miner", "retry")._value.get() == 1
