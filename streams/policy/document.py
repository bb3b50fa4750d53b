"""The input document a policy sees for one attributed change.

```
{"resource": {uid, type, id, account, region, name, tags, attributes[, metadata]},
 "change": {kind, diff, previous_version, new_version, observed_at},
 "attribution": {actor, actor_arn, actor_kind, actor_type, confidence, provisional}}
```

``resource.metadata`` is the same object as ``attributes`` (the name the original
Elava examples use). regopy copies the input value by value, so it is only added
when some loaded policy reads it.
"""

from __future__ import annotations

from typing import Any

import orjson

from elava.events import AttributedChange, ChangeEvent, FieldChange, Resource
from streams.policy.projection import Projection


def input_document(attributed: AttributedChange, with_metadata: bool = False) -> dict[str, Any]:
    change = attributed.change
    assert change.resource is not None, "only changes that carry their resource are evaluated"
    return {"resource": resource_document(change.resource, with_metadata), **decision_context(attributed)}


def projected_document(attributed: AttributedChange, projection: Projection, with_metadata: bool) -> dict[str, Any]:
    """:func:`input_document` as ``projection`` passes it, built directly, for an engine that
    serialises it as JSON itself (values are not made JSON-safe here: serialise with
    ``orjson.dumps(..., default=str)``, which writes them as :func:`_json_safe` would)."""
    change = attributed.change
    resource = change.resource
    assert resource is not None, "only changes that carry their resource are evaluated"
    every = resource.attributes
    attributes = every if projection.attributes is None else {
        name: every[name] for name in projection.attributes if name in every}
    document = {"uid": resource.uid, "type": resource.type, "id": resource.id, "account": resource.account,
                "region": resource.region, "name": resource.name, "tags": resource.tags, "attributes": attributes}
    if with_metadata:
        document["metadata"] = attributes
    return {"resource": document, "change": _change_document(change, with_diff=projection.diff),
            "attribution": attribution_document(attributed)}


def decision_context(attributed: AttributedChange) -> dict[str, Any]:
    """Everything of the input but the resource: what an action request carries to be re-checked."""
    return {"change": _change_document(attributed.change, with_diff=True), "attribution": attribution_document(attributed)}


def _change_document(change: ChangeEvent, with_diff: bool) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "diff": [_field_change(item) for item in change.diff] if with_diff else [],
        "previous_version": change.previous_version,
        "new_version": change.new_version,
        "observed_at": change.observed_at.isoformat(),
    }


def resource_document(resource: Resource, with_metadata: bool = False) -> dict[str, Any]:
    document = {
        "uid": resource.uid, "type": resource.type, "id": resource.id, "account": resource.account,
        "region": resource.region, "name": resource.name, "tags": resource.tags,
        "attributes": _json_safe(resource.attributes),
    }
    if with_metadata:
        document["metadata"] = document["attributes"]
    return document


def attribution_document(attributed: AttributedChange) -> dict[str, Any]:
    actor = attributed.actor
    return {
        "actor": actor.name or actor.arn or "",
        "actor_arn": actor.arn or "",
        "actor_kind": actor.kind,
        "actor_type": actor.type,
        "confidence": attributed.confidence,
        "provisional": attributed.provisional,
    }


def _field_change(item: FieldChange) -> dict[str, Any]:
    return {"path": item.path, "op": item.op, "old": _json_safe(item.old), "new": _json_safe(item.new)}


def _json_safe(value: Any) -> Any:
    # Attributes read back from Kafka are plain JSON; built in-process they may hold
    # datetimes (creation times), which regopy cannot take. orjson converts in C.
    return orjson.loads(orjson.dumps(value, default=str))
