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
them equal over many shapes); where it could differ, a resource merely looks changed and
is validated. Anything the fast path does not take (invalid JSON, another schema version,
a malformed header or identity) is parsed whole as before, with the same errors.

Not orjson, though it parses faster in a tight loop: it reads an integer beyond 64 bits as
a float (pydantic keeps it exact), and guarding against that cost more than it saved in
the worker's loop (measured, docs/benchmarks.md).

Pure core: no Kafka, no Faust.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic_core import PydanticSerializationError, from_json, to_json

from elava.events import SCHEMA_VERSION, Observation, Resource, digest


@dataclass(frozen=True, slots=True)
class RawPage:
    """A page of observations whose resources are still the dicts the JSON parser made.

    ``header`` is the page as an ``Observation`` without its resources (``resources`` is
    empty) and with the whole page's ``event_id``; ``data`` the bytes it was read from.
    """

    header: Observation
    resources: Sequence[dict[str, Any]]
    data: bytes
    # Computed ahead, by a child of the worker from these same bytes (``prepare_page``): the
    # resources' raw content hashes, in order; None: computed here when asked.
    hashes: list[str] | None = field(default=None, compare=False)

    def uids(self) -> list[str]:
        resources = self.resources
        return resources.uids if isinstance(resources, Blobs) else [resource["uid"] for resource in resources]

    def content_hash(self, index: int) -> str:
        """``raw_content_hash`` of resource ``index``."""
        return self.hashes[index] if self.hashes is not None else raw_content_hash(self.resources[index])

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
    raw = _raw_page(data)
    if raw is None:
        return None
    resources = raw["resources"]
    return _page_of(raw, resources, data, [resource["uid"] for resource in resources])


def _raw_page(data: bytes) -> dict[str, Any] | None:
    """The page's JSON, if it is an object whose ``resources`` are identified dicts."""
    try:  # keys cached, values not: a page's keys repeat, its values (ids, ARNs) mostly do not (docs/benchmarks.md)
        raw = from_json(data, cache_strings="keys")
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    resources = raw.get("resources")
    if not isinstance(resources, list) or not all(map(_identified, resources)):
        return None
    return raw


def _page_of(raw: dict[str, Any], resources: Sequence[dict[str, Any]], data: bytes, uids: list[str],
             hashes: list[str] | None = None) -> RawPage | None:
    """The page with its header validated (``raw``: its JSON, whose resources are ignored here)."""
    try:
        header = Observation.model_validate({**raw, "resources": []})
    except ValueError:
        return None
    if header.schema_version != SCHEMA_VERSION:
        return None
    if not raw.get("event_id"):  # computed from the content, which includes the resources' uids
        header = header.model_copy(update={"event_id": digest([Observation.ce_type, header.id_material_with(uids)])})
    return RawPage(header, resources, data, hashes)


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


def validate_resource(resource: dict[str, Any]) -> Resource:
    """The resource validated as on a fully parsed page (ValueError if it is not valid)."""
    return Resource.model_validate(resource)


class Blobs(Sequence[dict[str, Any]]):
    """A page's resources as the JSON of each (``prepare_page``), parsed when one is asked for.

    Each resource's JSON is what ``to_json`` wrote of the dict the page's parse made, and
    ``from_json`` reads it back as an equal dict: the same values of the same types, in the
    same key order (non-finite floats and integers beyond 64 bits included; a test holds this).
    """

    def __init__(self, uids: list[str], blobs: list[bytes]) -> None:
        self.uids, self._blobs = uids, blobs

    def __len__(self) -> int:
        return len(self._blobs)

    def __getitem__(self, index):  # type: ignore[override]  # an int: the observer reads one at a time
        return from_json(self._blobs[index], cache_strings="keys")


class Prepared(NamedTuple):
    """What ``prepare_page`` hands the worker (pickled, from its page reader's child): the page's
    header fields (its JSON without the resources), each resource's uid, raw content hash and JSON."""

    header: dict[str, Any]
    uids: list[str]
    hashes: list[str]
    blobs: list[bytes]


def prepare_page(data: bytes) -> Prepared | None:
    """The parse and the hashes of a page, done ahead of the worker (in its page reader's child);
    None when ``read_page`` would find nothing to read lazily, or a value will not round-trip."""
    raw = _raw_page(data)
    if raw is None:
        return None
    resources = raw.pop("resources")
    try:
        hashes = [raw_content_hash(resource) for resource in resources]
        blobs = [to_json(resource, inf_nan_mode="constants") for resource in resources]
    except (TypeError, PydanticSerializationError):  # an integer beyond 64 bits has no hash: the agent says so
        return None
    return Prepared(raw, [resource["uid"] for resource in resources], hashes, blobs)


def read_prepared(data: bytes, prepared: Prepared) -> RawPage | None:
    """``read_page`` of ``data`` from what ``prepare_page`` made of the same bytes."""
    return _page_of(prepared.header, Blobs(prepared.uids, prepared.blobs), data, prepared.uids, prepared.hashes)
