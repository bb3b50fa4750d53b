"""The net difference between two moments: what exists at T2 that did not at T1, what is
gone, and for what exists at both, the field diff between the two versions.

Events answer "what happened"; this answers "what is different". A resource created and
deleted between T1 and T2 is in neither list; one changed and changed back is not
modified; one deleted and created again under the same uid is modified (``recreated``).
Only resources with a version that began in ``(T1, T2]`` can differ, so the time index
gives the candidates and the rest of the store is never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from elava.events import FieldChange
from streams.diff import diff_content
from streams.store.records import Version
from streams.store.versioned import VersionStore, to_micros

NetKind = Literal["created", "modified", "deleted"]
ORDER: dict[str, int] = {"created": 0, "modified": 1, "deleted": 2}


@dataclass(frozen=True)
class NetChange:
    """One resource that differs between T1 (``before``) and T2 (``after``)."""

    uid: str
    kind: NetKind
    before: Version | None  # the version valid at T1; None: it did not exist
    after: Version | None  # the version valid at T2; None: it did not exist
    diff: list[FieldChange] = field(default_factory=list)
    between: list[Version] = field(default_factory=list)  # versions that began in (T1, T2]

    @property
    def subject(self) -> dict[str, Any]:
        """What the change is about: the resource at T2, or at T1 if it is gone."""
        return (self.after or self.before).resource or {}

    @property
    def recreated(self) -> bool:
        """Deleted and created again in the window: one uid, two lives."""
        return self.kind == "modified" and any(v.deleted for v in self.between)


def content(resource: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a stored resource whose change makes a new version (``Resource.content()``)."""
    resource = resource or {}
    return {"name": resource.get("name"), "tags": resource.get("tags") or {},
            "attributes": resource.get("attributes") or {}}


def _alive_at(versions: list[Version], t: int) -> Version | None:
    """The version valid at ``t`` (versions oldest first), None if absent or deleted then."""
    found = None
    for version in versions:
        if version.valid_from > t:
            break
        found = version
    return None if found is None or found.deleted else found


def net_change(versions: list[Version], t1: int, t2: int) -> NetChange | None:
    """How one resource (all its versions, oldest first) differs between ``t1`` and ``t2``."""
    if not versions:
        return None
    before, after = _alive_at(versions, t1), _alive_at(versions, t2)
    between = [v for v in versions if t1 < v.valid_from <= t2]
    uid = versions[0].uid
    if before is None and after is None:
        return None  # absent at both ends, whatever happened in between
    if before is None:
        return NetChange(uid, "created", None, after, [], between)
    if after is None:
        return NetChange(uid, "deleted", before, None, [], between)
    if before.version == after.version:
        return None
    diff = diff_content(content(before.resource), content(after.resource))
    return NetChange(uid, "modified", before, after, diff, between) if diff else None


def candidates(store: VersionStore, t1: int, t2: int) -> list[str]:
    """Uids with a version that began in ``(t1, t2]``, in uid order."""
    return sorted({entry.uid for entry in store.changed_between(t1 + 1, t2 + 1)})


def net_changes(store: VersionStore, since: datetime, until: datetime,
                uids: Iterable[str] | None = None) -> Iterator[NetChange]:
    """Every resource that differs between ``since`` and ``until`` (``uids``: only those), by uid."""
    t1, t2 = to_micros(since), to_micros(until)
    for uid in candidates(store, t1, t2) if uids is None else sorted(set(uids)):
        found = net_change(store.versions(uid), t1, t2)
        if found is not None:
            yield found
