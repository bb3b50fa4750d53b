"""Which observed resources a CloudTrail call touched: one table row per event family.

`FAMILIES` is the table, made from the families each resource type declares in the
catalogue (`elava.catalogue.trail`): an ``eventSource``, the event names of the
family, the types it can touch and where their ids or ARNs sit in the record. Each
touched resource carries the uid its collector gives it (`arns`), so a trail event
and the resource's observations meet in one shard (`shard_for`). Read-only and failed
calls touch nothing: they changed nothing to attribute (`why_nothing_changed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from collectors.cloudtrail.normalize import arns
from collectors.cloudtrail.normalize.arns import Place
from collectors.cloudtrail.normalize.calls import (
    Call,
    Extractor,
    Family,
    event_base_name,
    why_nothing_changed,
)
from elava.catalogue import registry
from elava.catalogue.trail import Arns, IdPrefixed, Ids, Read, TrailFamily
from elava.events import TouchedResource
from elava.sharding import shard_of

__all__ = ["FAMILIES", "Family", "family_of", "shard_for", "targeted_resources", "touched_resources",
           "why_nothing_changed"]

# --- the table, from the catalogue --------------------------------------------------------

def _read_ids(read: Ids, type_name: str, call: Call) -> list[TouchedResource]:
    if read.only_on and not call.name.startswith(read.only_on):
        return []
    return call.named(type_name, *read.paths)


def _read_id_prefixed(read: IdPrefixed, call: Call) -> Iterator[TouchedResource]:
    typed = registry.by_id_prefix()
    for rid in call.ids(*read.paths):
        rt = typed.get(rid.split("-", 1)[0])
        if rt is not None:
            yield call.make(rt.name, rid)


def _read(read: Read, owner: str | None, call: Call) -> Iterable[TouchedResource]:
    """What one read finds; ``owner`` declares the family (None: a shared family, whose
    reads name their types, see `registry.register_family`)."""
    if isinstance(read, IdPrefixed):
        return _read_id_prefixed(read, call)
    if isinstance(read, Ids):
        return _read_ids(read, read.type or str(owner), call)
    if isinstance(read, Arns):
        types = read.types or (owner,)
        return [touched for touched in call.by_arn(*read.paths) if touched.type in types]
    return read.extract(call, owner or read.types[0])


def _extractor(family: TrailFamily, owner: str | None) -> Extractor:
    def extract(call: Call) -> list[TouchedResource]:
        return [touched for read in family.reads for touched in _read(read, owner, call)]
    return extract


def _row(family: TrailFamily, owner: str | None) -> Family:
    return Family(family.title, family.source, family.events, registry.family_types(family, owner),
                  _extractor(family, owner), family.where)


FAMILIES: tuple[Family, ...] = tuple(_row(family, owner) for family, owner in registry.trail_families())


# --- reading a record -------------------------------------------------------------------

def family_of(source: str, event_name: str) -> Family | None:
    name = event_base_name(event_name)
    return next((family for family in FAMILIES if family.covers(source, name)), None)


def _call(record: Mapping[str, Any], place: Place) -> Call:
    data = {"request": record.get("requestParameters") or {}, "response": record.get("responseElements") or {},
            "resources": record.get("resources") or []}
    return Call(str(record.get("eventSource") or ""), event_base_name(str(record.get("eventName") or "")),
                place, data)


def targeted_resources(record: Mapping[str, Any], place: Place) -> list[TouchedResource]:
    """What the call names as its targets, whether or not it changed anything."""
    family = family_of(str(record.get("eventSource") or ""), str(record.get("eventName") or ""))
    if family is None:
        return []
    unique = {touched.uid: touched for touched in family.extract(_call(record, place))}
    return list(unique.values())


def touched_resources(record: Mapping[str, Any], place: Place) -> list[TouchedResource]:
    """The observed resources a call may have changed (none for read-only or failed calls)."""
    return [] if why_nothing_changed(record) else targeted_resources(record, place)


def shard_for(touched: TouchedResource, account: str, region: str, buckets: int) -> str:
    """The shard key of the touched resource's observations. ``account`` and ``region``
    are the call's; the resource's own ARN wins where it names them; global types
    (S3, IAM, Route 53) are in the ``global`` scope."""
    owner, scope = arns.home(touched, account, region)
    return shard_of(touched.uid, owner, scope, touched.type, buckets)
