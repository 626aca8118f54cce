"""Helpers that write OpenAPI v3 structural schemas, and the defaulting the API server applies with them.

The CRDs are written with these (one source of truth); `apply_defaults` fills a spec the way the API
server does, so the builders' unit tests see exactly the objects the operator sees in a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

Schema = dict[str, Any]

# Kubernetes' own resource.Quantity syntax, as its OpenAPI documents it.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def _node(kind: str | None, description: str | None, **keywords: Any) -> Schema:
    node: Schema = {} if kind is None else {"type": kind}
    if description:
        node["description"] = description
    node.update({key: value for key, value in keywords.items() if value is not None})
    return node


def string(
    description: str | None = None,
    *,
    enum: Iterable[str] | None = None,
    pattern: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    default: str | None = None,
    format: str | None = None,
) -> Schema:
    return _node(
        "string",
        description,
        enum=list(enum) if enum is not None else None,
        pattern=pattern,
        minLength=min_length,
        maxLength=max_length,
        default=default,
        format=format,
    )


def integer(
    description: str | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
) -> Schema:
    return _node("integer", description, minimum=minimum, maximum=maximum, default=default)


def number(
    description: str | None = None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool | None = None,
    default: float | None = None,
) -> Schema:
    return _node(
        "number", description, minimum=minimum, maximum=maximum, exclusiveMinimum=exclusive_minimum, default=default
    )


def boolean(description: str | None = None, *, default: bool | None = None) -> Schema:
    return _node("boolean", description, default=default)


def obj(
    properties: Mapping[str, Schema],
    description: str | None = None,
    *,
    required: Iterable[str] = (),
    default: Mapping[str, Any] | None = None,
) -> Schema:
    """An object; `default={}` lets the API server fill its fields' defaults when it is left out."""
    node = _node(
        "object", description, properties=dict(properties), default=dict(default) if default is not None else None
    )
    required = list(required)
    if required:
        node["required"] = required
    return node


def array(items: Schema, description: str | None = None, *, max_items: int | None = None) -> Schema:
    return _node("array", description, items=items, maxItems=max_items)


def string_map(description: str | None = None, *, max_properties: int | None = None) -> Schema:
    return _node("object", description, additionalProperties={"type": "string"}, maxProperties=max_properties)


def quantity(description: str | None = None, *, default: str | None = None) -> Schema:
    """A resource quantity ("500m", "2Gi", 4): an int-or-string, as Kubernetes types it."""
    return _node(
        None,
        description,
        **{"x-kubernetes-int-or-string": True},
        anyOf=[{"type": "integer"}, {"type": "string"}],
        pattern=QUANTITY_PATTERN,
        default=default,
    )


def quantity_map(description: str | None = None, *, default: Mapping[str, str] | None = None) -> Schema:
    return _node(
        "object",
        description,
        additionalProperties=quantity(),
        default=dict(default) if default is not None else None,
    )


def apply_defaults(schema: Schema, value: Any) -> Any:
    """`value` with every missing field that has a default filled in, recursively, as the API server does.

    A field defaulted to `{}` gets its own fields' defaults too; nothing outside the schema changes.
    """
    if isinstance(value, Mapping) and "properties" in schema:
        filled = dict(value)
        for key, child in schema["properties"].items():
            if key not in filled and "default" in child:
                filled[key] = copy.deepcopy(child["default"])
            if key in filled:
                filled[key] = apply_defaults(child, filled[key])
        return filled
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value
