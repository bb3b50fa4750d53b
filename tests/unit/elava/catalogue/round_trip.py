"""A CloudTrail record naming a scanned resource gives back the collector's uid, id and shard.

For every trail family that may touch the resource's type, every read of it naming
that type and every path of that read, a record is made with the resource's ARN (a
path that holds ARNs) or id at that path, and attribution reads it back. Used on
every resource the collector tests scan (`tests/unit/collectors/conftest.py`), so
each registered type is checked through its own moto test, with nothing to list.
"""

from __future__ import annotations

from typing import Any

from collectors.cloudtrail.normalize.arns import home
from collectors.cloudtrail.normalize.records import place_of
from collectors.cloudtrail.normalize.resources import touched_resources
from elava.catalogue import registry
from elava.catalogue.trail import Arns, Read, TrailFamily
from elava.events import Resource
from elava.sharding import GLOBAL_REGION

RECORD_FIELDS = {"request": "requestParameters", "response": "responseElements", "resources": "resources"}
CALL_REGION_OF_GLOBAL_TYPES = "us-east-1"


def _holds_arn(read: Read, path: str) -> bool:
    return isinstance(read, Arns) or path.replace("/", ".").rsplit(".", 1)[-1].lower().endswith("arn")


def _nested(path: str, value: str) -> tuple[str, Any]:
    """``response.instancesSet/instanceId`` -> ``("response", {"instancesSet": [{"instanceId": value}]})``."""
    head, _, field = path.partition("/")
    steps = head.split(".")
    body: Any = [{field: value}] if field else value
    for step in reversed(steps[1:]):
        body = {step: body}
    return steps[0], body


def _event_name(family: TrailFamily, read: Read) -> str:
    only_on = getattr(read, "only_on", ())
    exact = [name for name in family.events if not name.endswith("*")]
    return next(name for name in exact if not only_on or name.startswith(only_on))


def record_naming(resource: Resource, family: TrailFamily, read: Read, path: str) -> dict[str, Any]:
    """The record of a call of ``family`` that names ``resource`` at ``path`` only."""
    top, body = _nested(path, resource.uid if _holds_arn(read, path) else resource.id)
    region = CALL_REGION_OF_GLOBAL_TYPES if resource.region == GLOBAL_REGION else resource.region
    return {"eventSource": family.source, "eventName": _event_name(family, read), "awsRegion": region,
            "recipientAccountId": resource.account, RECORD_FIELDS[top]: body}


def reads_naming(type_name: str) -> list[tuple[TrailFamily, Read]]:
    return [(family, read) for family, owner in registry.trail_families() for read in family.reads
            if type_name in registry.read_types(read, owner)]


def problems(resource: Resource, scope: str) -> list[str]:
    """What differs between the collector's resource (shard scope ``scope``) and what
    attribution reads in each record naming it; empty when they agree."""
    found = []
    for family, read in reads_naming(resource.type):
        for path in read.paths:
            record = record_naming(resource, family, read, path)
            place = place_of(record)
            named = [t for t in touched_resources(record, place) if t.type == resource.type]
            got = [(t.uid, t.id, home(t, place.account, place.region)) for t in named]
            want = (resource.uid, resource.id, (resource.account, scope))
            if got != [want]:
                found.append(f"{family.title} at {path}: attribution reads {got}, the collector made {want}")
    return found
