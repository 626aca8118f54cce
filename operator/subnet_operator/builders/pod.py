"""A spec's pod settings (`spec.pod`, `spec.triton.pod`) -> the pod template fields they stand for."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Spec = Mapping[str, Any]
Manifest = dict[str, Any]

# Copied onto the PodSpec as written: the schema gives them their core shapes.
PASSED_THROUGH = (
    "nodeSelector",
    "affinity",
    "topologySpreadConstraints",
    "priorityClassName",
    "runtimeClassName",
    "imagePullSecrets",
)


def pod_spec_fields(settings: Spec, tolerations: Sequence[Manifest] = ()) -> Manifest:
    """The PodSpec fields `settings` set; `tolerations` (the operator's own, e.g. for GPU taints) come first,
    the spec's are added unless they repeat one."""
    fields: Manifest = {key: copy.deepcopy(settings[key]) for key in PASSED_THROUGH if settings.get(key)}
    merged = [dict(t) for t in tolerations]
    merged += [dict(t) for t in settings.get("tolerations") or [] if dict(t) not in merged]
    if merged:
        fields["tolerations"] = merged
    return fields


def template_metadata(settings: Spec, labels: Mapping[str, str], annotations: Mapping[str, str]) -> Manifest:
    """The pod template's labels and annotations: the spec's, with the operator's winning a clash."""
    return {
        "labels": {**(settings.get("labels") or {}), **labels},
        "annotations": {**(settings.get("annotations") or {}), **annotations},
    }


def with_pull_secrets(spec: Spec, names: Iterable[str]) -> Manifest:
    """`spec` with the operator's image pull secrets (the chart's images.pullSecrets) added to every pod
    section it has, after the spec's own."""
    names = list(names)
    full = copy.deepcopy(dict(spec))
    if not names:
        return full
    sections = [full.setdefault("pod", {})]
    if isinstance(full.get("triton"), dict):
        sections.append(full["triton"].setdefault("pod", {}))
    for section in sections:
        secrets = list(section.get("imagePullSecrets") or [])
        secrets += [{"name": name} for name in names if {"name": name} not in secrets]
        section["imagePullSecrets"] = secrets
    return full
