"""When a child object of a Validator or Miner has drifted: pure rules on the watch events of its children.

Deleted: always. Modified (Deployments and Services, which the operator applies): when the newest write to
its spec (anything but status and metadata) came from a field manager that is not the operator's, e.g.
`kubectl edit`. Status updates by the controllers and the operator's own applies and scaling are not
drift, so a busy Deployment costs no API request here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from subnet_operator import api

OWN_MANAGERS = frozenset({api.FIELD_MANAGER, api.SCALER_FIELD_MANAGER})
NOT_SPEC = frozenset({"f:status", "f:metadata"})
# Created once and then left alone (a state claim: its spec is Kubernetes' to fill in, volumeName on binding):
# only their deletion is drift.
CREATED_ONLY = frozenset({"PersistentVolumeClaim"})


@dataclass(frozen=True)
class OwnerRef:
    kind: str
    name: str
    uid: str | None  # None: whichever resource holds the name (a retained claim outlives its Validator)


def controller_of(kind: str, metadata: Mapping[str, Any]) -> OwnerRef | None:
    """The Validator or Miner controlling an object, from its owner references. A retained state claim
    (spec.persistence.retain) has none, so that it outlives its Validator: its labels name the Validator."""
    kinds = {kind.kind for kind in api.KINDS}
    for ref in metadata.get("ownerReferences") or ():
        if ref.get("controller") and ref.get("apiVersion") == api.API_VERSION and ref.get("kind") in kinds:
            return OwnerRef(ref["kind"], ref["name"], ref["uid"])
    labels = metadata.get("labels") or {}
    instance = labels.get(api.LABEL_INSTANCE)
    if (
        kind == "PersistentVolumeClaim"
        and labels.get(api.LABEL_COMPONENT) == api.VALIDATOR_COMPONENT
        and instance
        and metadata.get("name") == api.object_name(instance, api.STATE_SUFFIX)
    ):
        return OwnerRef(api.VALIDATOR.kind, instance, None)
    return None


def edited_by_hand(managed_fields: Iterable[Mapping[str, Any]]) -> bool:
    """The newest spec write (managedFields times have a one-second grain: any at that second) is not ours."""
    writers = [entry for entry in managed_fields if set(entry.get("fieldsV1") or {}) - NOT_SPEC]
    if not writers:
        return False
    newest = max(entry.get("time", "") for entry in writers)
    return any(entry.get("manager") not in OWN_MANAGERS for entry in writers if entry.get("time", "") == newest)


def drifted(
    event_type: str | None, kind: str, metadata: Mapping[str, Any], repaired_generation: int | None = None
) -> str | None:
    """Why the operator must re-apply the owner ("deleted" or "edited"), or None: also for the initial listing,
    which the resume handlers already reconcile. `repaired_generation`: the generation of this object the
    operator last re-applied; an edit of fields it does not own survives a re-apply, and must not cost another
    one at every status update of that same generation."""
    if event_type == "DELETED":
        return "deleted"
    if kind in CREATED_ONLY:
        return None
    generation = metadata.get("generation")
    if generation is not None and generation == repaired_generation:
        return None
    if event_type == "MODIFIED" and edited_by_hand(metadata.get("managedFields") or ()):
        return "edited"
    return None
