"""An observation page read for the worker: its header validated, its resources' content not yet.

In a steady scan most resources are what their heads already hold. Validating each with
pydantic only to find its content hash equal to its head's was a fifth of the worker's
CPU, so the worker reads a page in two steps:

1. ``read_page`` parses it with pydantic's own JSON parser (the one that reads a page for
   full validation, so the values are the same ones) and validates everything but the
   content (``name``, ``tags``, ``attributes``) of each resource: the header as an
   ``Observation`` and each resource's identity (``uid``, ``type``, ``id``, ``account``,
   ``region`` are strings);
2. the observer (``Observer.screen_with_heads``, streams/observe.py) reads each resource's head and
   validates, before anything is written, every resource whose raw content hash differs
   from its head's (or that has no head, is replayed, or appears twice on the page).

A resource left unvalidated has content whose canonical JSON equals that of a head
validated when it was stored: valid by construction. ``raw_content_hash`` is
``Resource.content_hash()`` of the validated resource for every valid one (a test holds
them equal over many shapes), and must stay so: a changed resource's new version is stored
with the hash its screening computed. Anything the fast path does not take (invalid JSON,
another schema version, a malformed header or identity) is parsed whole as before, with the
same errors.

Not orjson, though it parses faster in a tight loop: it reads an integer beyond 64 bits as
a float (pydantic keeps it exact), and guarding against that cost more than it saved in
the worker's loop (measured, docs/benchmarks.md).

Pure core: no Kafka, no Faust.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from elava.events import SCHEMA_VERSION, Observation, Resource, digest


@dataclass(frozen=True, slots=True)
class RawPage:
    """A page of observations whose resources are still the dicts the JSON parser made.

    ``header`` is the page as an ``Observation`` without its resources (``resources`` is
    empty) and with the whole page's ``event_id``; ``data`` the bytes it was read from.
    """

    header: Observation
    resources: list[dict[str, Any]]
    data: bytes

    @property
    def event_id(self) -> str:
        return self.header.event_id

    @property
    def shard(self) -> str:
        return self.header.shard

    @property
    def type(self) -> str:
        return self.header.type

    def validated(self) -> Observation:
        """The whole page validated as before: its ``Observation``, or the SchemaError saying what is wrong."""
        return Observation.from_bytes(self.data)


def read_page(data: bytes) -> RawPage | None:
    """``data`` read lazily, or None when only the full parse (``Observation.from_bytes``) can say."""
    try:  # keys cached, values not: a page's keys repeat, its values (ids, ARNs) mostly do not (docs/benchmarks.md)
        raw = from_json(data, cache_strings="keys")
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    resources = raw.get("resources")
    if not isinstance(resources, list) or not all(map(_identified, resources)):
        return None
    try:
        header = Observation.model_validate({**raw, "resources": []})
    except ValueError:
        return None
    if header.schema_version != SCHEMA_VERSION:
        return None
    if not raw.get("event_id"):  # computed from the content, which includes the resources' uids
        material = header.id_material_with([resource["uid"] for resource in resources])
        header = header.model_copy(update={"event_id": digest([Observation.ce_type, material])})
    return RawPage(header, resources, data)


def _identified(resource: Any) -> bool:
    """What pydantic would require of a resource's identity: five strings (JSON gives exact str)."""
    return (type(resource) is dict and type(resource.get("uid")) is str and type(resource.get("type")) is str
            and type(resource.get("id")) is str and type(resource.get("account")) is str
            and type(resource.get("region")) is str)


def raw_content_hash(resource: dict[str, Any]) -> str:
    """``Resource.content_hash()`` computed from the raw dict, defaults as pydantic fills them.

    A value pydantic would refuse (e.g. ``"tags": null``) gives a hash no valid content has.
    """
    return digest({"name": resource.get("name"), "tags": resource.get("tags", {}),
                   "attributes": resource.get("attributes", {})})


def json_form(resource: Resource) -> dict[str, Any]:
    """``resource.model_dump(mode="json")`` of a resource validated from JSON, ~6 µs cheaper: its
    values are what the JSON parser made (str, int, float, bool, None, list, dict), which the JSON
    mode leaves as they are. Not for a resource built in Python, whose attributes may hold a
    datetime or a tuple (a test holds both equal over many shapes)."""
    return {"uid": resource.uid, "type": resource.type, "id": resource.id, "account": resource.account,
            "region": resource.region, "name": resource.name, "tags": resource.tags,
            "attributes": resource.attributes}


def validate_resource(resource: dict[str, Any]) -> Resource:
    """The resource validated as on a fully parsed page (ValueError if it is not valid)."""
    return Resource.model_validate(resource)
