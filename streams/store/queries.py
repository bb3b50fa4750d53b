"""Time travel over the MVCC store: as of T, history, inventory, changes, diff, who.

Pure core (no Faust, no boto): the CLI reads the embedded store with it, and the
same functions work on a worker partition's store.

Times are datetimes at the edges and microseconds inside. Windows are inclusive at
both ends: ``changes(T1, T2)`` holds versions that began at T1 or T2 or in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams.store.net import NetChange, net_changes
from streams.store.records import RecordLead, Version
from streams.store.versioned import HEADS_READ_TOGETHER, VersionStore, to_micros

UNKNOWN = "unknown"


@dataclass(frozen=True)
class InventoryFilter:
    """Which resources an inventory holds; empty fields match everything."""

    account: str | None = None
    region: str | None = None
    type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def matches(self, resource: dict[str, Any]) -> bool:
        if self.account is not None and resource.get("account") != self.account:
            return False
        if self.region is not None and resource.get("region") != self.region:
            return False
        if self.type is not None and resource.get("type") != self.type:
            return False
        tags = resource.get("tags") or {}
        return all(tags.get(key) == value for key, value in self.tags.items())

    def needles(self) -> list[bytes]:
        """Bytes every stored record of a matching resource holds (account, region and type never
        change for a uid, and records are compact JSON): a cheap test before any decoding."""
        fields = {"account": self.account, "region": self.region, "type": self.type}
        return [b'"%s":%s' % (name.encode(), orjson.dumps(value)) for name, value in fields.items() if value]


@dataclass(frozen=True)
class CoAuthor:
    """One of the actors who made a version, with the share of its diff they made."""

    actor: str
    actor_kind: str
    share: float
    confidence: float


@dataclass(frozen=True)
class Authorship:
    """Who made one version, as far as attribution knows: ``unknown`` until it names someone.

    ``method`` is how it was decided (``cloudtrail``, ``heuristic`` from tags: provisional,
    ``none``), or None while the version has no attribution record at all. ``actors`` are
    all who made it, largest share first (``actor`` is the first).
    """

    version: Version
    actor: str
    actor_kind: str
    confidence: float | None
    evidence: list[str]
    method: str | None
    actors: list[CoAuthor] = field(default_factory=list)

    @property
    def attributed(self) -> bool:
        return self.actor != UNKNOWN


class TemporalQueries:
    def __init__(self, store: VersionStore) -> None:
        self.store = store

    def as_of(self, uid: str, moment: datetime) -> Version | None:
        """The resource as it was at ``moment``; None if it did not exist then."""
        return self.store.as_of(uid, moment)

    def history(self, uid: str, since: datetime | None = None, until: datetime | None = None) -> list[Version]:
        """Versions whose validity overlaps ``[since, until]``, oldest first (tombstones included)."""
        start = to_micros(since) if since else None
        end = to_micros(until) if until else None
        return [
            v for v in self.store.versions(uid)
            if (end is None or v.valid_from <= end) and (start is None or v.valid_to is None or v.valid_to > start)
        ]

    def inventory(self, moment: datetime, where: InventoryFilter | None = None) -> Iterator[Version]:
        """Every resource that existed at ``moment``, in uid order.

        Heads carry ``valid_from``: a head that began by ``moment`` is the answer, and
        only resources changed since then need their history read.
        """
        where, t = where or InventoryFilter(), to_micros(moment)
        needles = where.needles()
        kept: list[RecordLead] = []
        for head in self.store.head_leads():
            if needles and not head.deleted and not all(n in head.data for n in needles):
                continue  # another account/region/type: skip without decoding or searching
            kept.append(head)
            if len(kept) == HEADS_READ_TOGETHER:
                yield from self._valid_at(kept, t, where)
                kept = []
        yield from self._valid_at(kept, t, where)

    def _valid_at(self, heads: list[RecordLead], t: int, where: InventoryFilter) -> Iterator[Version]:
        """The versions of ``heads`` valid at ``t`` that match ``where``, in order; the heads that
        began by ``t`` answer, their versions read together (a head holds only the leading fields)."""
        answering = self.store.whole_leads([head for head in heads if head.valid_from <= t])
        whole = iter(answering)
        for head in heads:
            found = self.store.version_at(next(whole) if head.valid_from <= t else head, t)
            if found is not None and where.matches(found.resource or {}):
                yield found

    def changes(self, since: datetime, until: datetime, where: InventoryFilter | None = None,
                uid: str | None = None) -> Iterator[Version]:
        """Every version that began in ``[since, until]`` (creations, modifications, deletions), by time.

        ``where`` keeps the versions whose resource matches it before or after the change
        (a modification that removed ``env=prod`` is a change to a prod resource); ``uid``
        keeps one resource's (read from its history, not from the time index).
        """
        if uid is not None:
            start, end = to_micros(since), to_micros(until)
            found: Iterator[Version] = (v for v in self.store.versions(uid) if start <= v.valid_from <= end)
        else:
            found = self._changed(since, until)
        for version in found:
            if where is None or self._touches(version, where):
                yield version

    def _changed(self, since: datetime, until: datetime) -> Iterator[Version]:
        for entry in self.store.changed_between(to_micros(since), to_micros(until) + 1):
            version = self.store.get_version(entry.uid, entry.version)
            if version is not None:  # None: dropped by retention while we read
                yield version

    def _touches(self, version: Version, where: InventoryFilter) -> bool:
        if where.matches(self.subject(version) or {}):
            return True
        if version.kind != "modified" or not where.tags:  # account, region and type never change
            return False
        previous = self.store.get_version(version.uid, version.version - 1)
        return previous is not None and where.matches(previous.resource or {})

    def diff(self, since: datetime, until: datetime, where: InventoryFilter | None = None,
             uid: str | None = None) -> Iterator[NetChange]:
        """The net difference between ``since`` and ``until``: created, deleted, modified (with
        the field diff between the two versions), by uid; ``where`` as in `changes`."""
        if until < since:
            raise ValueError("the end of the window is before its start")
        for found in net_changes(self.store, since, until, None if uid is None else [uid]):
            ends = [v.resource or {} for v in (found.before, found.after) if v is not None]
            if where is None or any(where.matches(resource) for resource in ends):
                yield found

    def who(self, uid: str, since: datetime | None = None, until: datetime | None = None) -> list[Authorship]:
        """Who made each version of ``uid`` in the window; ``unknown`` where attribution has not said."""
        return [authorship(v) for v in self.history(uid, since, until)]

    def resolve(self, ref: str) -> list[str]:
        """Uids meant by ``ref``: the uid itself, or those ending in ``/ref`` or ``:ref`` (an id)."""
        if self.store.head(ref) is not None:
            return [ref]
        if ref.startswith("arn:"):  # a uid is matched whole: no walk over every uid
            return []
        return [uid for uid in self.store.uids() if uid.endswith((f"/{ref}", f":{ref}"))]

    def subject(self, version: Version) -> dict[str, Any] | None:
        """What a version is about: its resource, or for a deletion the last version seen alive."""
        if version.resource is not None or version.version <= 1:
            return version.resource
        previous = self.store.get_version(version.uid, version.version - 1)
        return previous.resource if previous else None


def _name(actor: dict[str, Any]) -> str:
    return actor.get("arn") or actor.get("name") or UNKNOWN


def authorship(version: Version) -> Authorship:
    record = version.attribution or {}
    actor = record.get("actor") or {}
    actors = [CoAuthor(_name(a.get("actor") or {}), (a.get("actor") or {}).get("kind") or UNKNOWN,
                       a.get("share") or 0.0, a.get("confidence") or 0.0) for a in record.get("actors") or []]
    return Authorship(
        version=version, actor=_name(actor), actor_kind=actor.get("kind") or UNKNOWN,
        confidence=record.get("confidence"), evidence=list(record.get("evidence") or []),
        method=record.get("method"), actors=actors,
    )
