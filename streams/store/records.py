"""A stored version's record, and what a head holds of it.

A version record is the whole version as JSON (``Version.to_bytes``); a head holds only its
leading fields, its shard and what identifies its resource (``head_record``). ``RecordLead``
reads the leading fields of either without decoding the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any, NamedTuple

import orjson

from elava.exceptions import StoreError
from streams.store.keyspaces import version_key
from streams.store.kv import KV


@dataclass(frozen=True)
class Version:
    """One stored version. ``resource`` is None for a tombstone."""

    uid: str
    version: int
    kind: str
    valid_from: int
    hash: str
    cause: str
    shard: str
    resource: dict[str, Any] | None
    diff: list[dict[str, Any]] = field(default_factory=list)
    attribution: dict[str, Any] | None = None
    valid_to: int | None = None
    # What the resource used in this version, by edge name (elava.catalogue.relations).
    edges: dict[str, list[str]] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.kind == "deleted"

    def to_bytes(self) -> bytes:
        # No edges, no field: a record of a type without edges stays as it was.
        record = {k: v for k, v in self.__dict__.items() if k not in ("uid", "valid_to") and (k != "edges" or v)}
        return orjson.dumps(record)

    @classmethod
    def from_bytes(cls, uid: str, data: bytes) -> Version:
        stored = orjson.loads(data)
        if tuple(stored) not in _WRITTEN:  # not as to_bytes writes it: each field checked by __init__
            return cls(uid=uid, **stored)
        return cls._made({"uid": uid, **stored, "valid_to": None, "edges": stored.get("edges") or {}})

    def but(self, **changed: Any) -> Version:
        """This version with ``changed`` fields (the store's copies: an attribution, a ``valid_to``)."""
        if not changed.keys() <= _FIELDS:
            raise TypeError(f"not fields of Version: {', '.join(sorted(changed.keys() - _FIELDS))}")
        return self._made({**self.__dict__, **changed})

    @classmethod
    def _made(cls, fields: dict[str, Any]) -> Version:
        """A version of ``fields`` (every field, each as stored). The frozen dataclass's ``__init__``
        sets one field at a time through ``object.__setattr__``: ~4 µs more for each head a change
        decodes and each copy it makes (docs/benchmarks.md); a test holds both ways equal, to the byte."""
        version = object.__new__(cls)
        version.__dict__.update(fields)
        return version


_FIELDS = frozenset(f.name for f in dataclass_fields(Version))
# The keys of a record as Version.to_bytes writes them, in its order: without edges, and with.
_WRITTEN = frozenset({("version", "kind", "valid_from", "hash", "cause", "shard", "resource", "diff", "attribution"),
                      ("version", "kind", "valid_from", "hash", "cause", "shard", "resource", "diff", "attribution",
                       "edges")})


# The leading fields of a record as Version.to_bytes writes them (dataclass order).
_LEAD = re.compile(rb'\{"version":(\d+),"kind":"([a-z]+)","valid_from":(\d+),"hash":"([0-9a-f]*)","cause":"([0-9a-f]*)"')
_CAUSE_FIELD = b'"cause":"'
# What follows the lead in a live record: the shard, then the resource's uid, type and id
# (Resource field order). Plain strings only; anything escaped falls back to decoding.
_RESOURCE_ID = re.compile(rb',"shard":"[^"\\]*","resource":\{"uid":"[^"\\]*","type":"[^"\\]*","id":"([^"\\]*)"')
_SHARD = re.compile(rb',"shard":"([^"\\]*)"')
# A whole record names its resource (null for a tombstone); a head's pointer never does, and no
# JSON string holds these bytes (its quotes are escaped).
_WHOLE_FIELD = b'"resource":'
# The resource's leading fields in a whole record (Resource field order), plain strings only.
_RESOURCE_LEAD = re.compile(rb',"shard":"[^"\\]*","resource":\{"uid":"[^"\\]*","type":"([^"\\]*)","id":"([^"\\]*)",'
                            rb'"account":"([^"\\]*)","region":"([^"\\]*)"')
_POINTER_ID = re.compile(rb',"shard":"[^"\\]*","id":"([^"\\]*)"')


class StoredRecord(NamedTuple):
    """A version's record as written (``Version.to_bytes``) with its resource's uid (the key
    holds it, the record does not): how a change crosses to the policies' process in a scan,
    which rebuilds it there (streams/attribution/join.py ``attributed_from_record``)."""

    uid: str
    data: bytes


class RecordLead(NamedTuple):
    """The leading fields of a stored record (head or version), read without decoding the rest.

    Most observations find their resource unchanged, and a binary search over versions
    only needs their start times: decoding each whole ~1 KB record for that was a third
    of the cost. ``full()`` decodes when the rest is needed. A named tuple, immutable like a
    frozen dataclass but built in a third of its time: one is read per observation.

    A head holds the leading fields only (``head_record``): ``source`` is then the KV whose
    version record ``full()`` reads; None when ``data`` is a whole record.
    """

    uid: str
    version: int
    kind: str
    valid_from: int
    hash: str
    cause: str
    data: bytes
    source: KV | None = None

    @property
    def deleted(self) -> bool:
        return self.kind == "deleted"

    def full(self) -> Version:
        if self.source is None:
            return Version.from_bytes(self.uid, self.data)
        data = self.source.get(version_key(self.uid, self.version))
        if data is None:  # retention keeps a head's version, and drops the head with it
            raise StoreError(f"the head of {self.uid} names version {self.version}, which the store does not hold")
        return Version.from_bytes(self.uid, data)

    def resource_id(self) -> str | None:
        """The stored resource's id (None for a tombstone), without decoding the record."""
        if self.deleted:
            return None
        match = (_RESOURCE_ID if self.source is None else _POINTER_ID).match(self.data, self._after_lead())
        if match is not None:
            return match.group(1).decode()
        return (self.full().resource or {}).get("id")

    def shard(self) -> str:
        """The shard the version was written for, without decoding the record."""
        match = _SHARD.match(self.data, self._after_lead())
        return match.group(1).decode() if match is not None else self.full().shard

    def _after_lead(self) -> int:
        return self.data.index(_CAUSE_FIELD) + len(_CAUSE_FIELD) + len(self.cause) + 1  # + closing quote

    @classmethod
    def from_bytes(cls, uid: str, data: bytes, source: KV | None = None) -> RecordLead:
        """The lead of a version record, or (``source``: where its version is) of a head."""
        match = _LEAD.match(data)
        if source is not None and _WHOLE_FIELD in data:
            source = None  # a head written whole (stores before head_record): read as a version
        if match is None:  # another writer's field order or unusual ids: decode it all
            v = Version.from_bytes(uid, data).__dict__ if _WHOLE_FIELD in data else orjson.loads(data)
            return cls(uid, v["version"], v["kind"], v["valid_from"], v["hash"], v["cause"], data, source)
        version, kind, valid_from, hash_, cause = match.groups()
        return cls(uid, int(version), kind.decode(), int(valid_from), hash_.decode(), cause.decode(), data, source)


def head_record(version: Version) -> bytes:
    """What a head holds: the version's leading fields (in its record's order, so ``RecordLead``
    reads both alike), its shard, and what identifies its resource (its id, and the account, region
    and type inventory queries search records for). ~200 bytes, where the whole record is ~1-2 KB:
    screening a page reads a head per resource, and each new version wrote its record twice."""
    resource = version.resource
    names = None if resource is None else (resource.get("id"), resource.get("type"), resource.get("account"),
                                           resource.get("region"))
    return _pointer(version.version, version.kind, version.valid_from, version.hash, version.cause, version.shard,
                    names)


def head_record_of(uid: str, data: bytes) -> bytes:
    """``head_record`` of a version record's bytes (restoring from a changelog), read from its
    leading fields without decoding the rest where they are plain strings."""
    lead = RecordLead.from_bytes(uid, data)
    found = None if lead.deleted or _WHOLE_FIELD not in data else _RESOURCE_LEAD.match(data, lead._after_lead())
    if found is None:
        return head_record(Version.from_bytes(uid, data))
    type_, id_, account, region = (part.decode() for part in found.groups())
    return _pointer(lead.version, lead.kind, lead.valid_from, lead.hash, lead.cause, lead.shard(),
                    (id_, type_, account, region))


def _pointer(version: int, kind: str, valid_from: int, hash_: str, cause: str, shard: str,
             names: tuple[Any, Any, Any, Any] | None) -> bytes:
    """A head's bytes; ``names``: its resource's id, type, account and region (None: a tombstone)."""
    pointer: dict[str, Any] = {"version": version, "kind": kind, "valid_from": valid_from, "hash": hash_,
                               "cause": cause, "shard": shard}
    if names is not None:
        pointer.update(zip(("id", "type", "account", "region"), names, strict=True))
    return orjson.dumps(pointer)
