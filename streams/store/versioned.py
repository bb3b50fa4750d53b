"""The MVCC layout: every version of every resource, over any byte-level KV.

The keys (heads, versions, membership, last scans, the time index, and every other
keyspace of the store) are laid out in streams/store/keyspaces.py.

Re-observing an unchanged resource writes nothing: "last seen" belongs to the scan.
Times are integer microseconds since the epoch. Version numbers of a resource are
contiguous and ``valid_from`` never decreases with them; retention drops a prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from elava.sharding import rebucket
from streams.store.keyspaces import (
    HEADS_PREFIX,
    LAYOUT_KEY,
    MEMBERS_END,
    MEMBERS_START,
    SCANS_PREFIX,
    SEP,
    cursor_key,
    findings_prefix,
    head_key,
    member_key,
    scan_key,
    shard_change_key,
    shard_change_uid,
    shard_changes_after,
    time_bound,
    time_key,
    user_key,
    users_prefix,
    version_key,
    versions_prefix,
)
from streams.store.kv import KV, drop_prefix
from streams.store.records import RecordLead, Version, head_record

# Heads read in one call where many are walked (a shard's members, an inventory): a page's worth.
HEADS_READ_TOGETHER = 512


def to_micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


@dataclass(frozen=True)
class ShardLayout:
    """The ``kafka.shard_buckets`` membership keys follow; not complete while a migration runs."""

    shard_buckets: int
    complete: bool = True


@dataclass(frozen=True)
class TimeEntry:
    """One time-index entry: version ``version`` of ``uid`` began at ``valid_from``."""

    valid_from: int
    uid: str
    version: int

    @classmethod
    def from_key(cls, key: bytes) -> TimeEntry:
        return cls(int.from_bytes(key[2:10], "big"), key[11:-5].decode(), int.from_bytes(key[-4:], "big"))

    @property
    def key(self) -> bytes:
        return time_key(self.valid_from, self.uid, self.version)


class VersionStore:
    """Versions, heads and shard membership of resources, on a KV backend."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def head(self, uid: str) -> Version | None:
        lead = self.head_lead(uid)
        return lead.full() if lead is not None else None

    def head_lead(self, uid: str) -> RecordLead | None:
        data = self.kv.get(head_key(uid))
        return RecordLead.from_bytes(uid, data, self.kv) if data is not None else None

    def head_leads_of(self, uids: list[str]) -> list[RecordLead | None]:
        """``head_lead`` of each uid, in order, read together (one MultiGet on RocksDB)."""
        found, kv = self.kv.get_many([head_key(uid) for uid in uids]), self.kv
        return [RecordLead.from_bytes(uid, data, kv) if data is not None else None
                for uid, data in zip(uids, found, strict=True)]

    def whole_leads(self, leads: list[RecordLead]) -> list[RecordLead]:
        """``leads`` with each head's version record read in (``full()`` then reads no more), all
        in one MultiGet: what a page's changed resources or a marker's judged members need."""
        pointing = [index for index, lead in enumerate(leads) if lead.source is not None]
        if not pointing:
            return leads
        found = self.kv.get_many([version_key(leads[i].uid, leads[i].version) for i in pointing])
        whole = list(leads)
        for index, data in zip(pointing, found, strict=True):
            if data is not None:  # else full() says the version is missing, when it is asked
                whole[index] = leads[index]._replace(data=data, source=None)
        return whole

    def append(self, version: Version, previous: Version | None = None) -> bytes:
        """Store a new version and make it the head (membership on create), in one write batch;
        the version's record as written (``Version.to_bytes``).

        ``previous`` is the head it replaces, as the caller read it: the "used by" entries
        written are those of edges it did not have, so an unchanged edge costs no write (in
        the worker, no changelog record either) and the head is not read again.
        """
        targets = edge_targets(version.edges) - (edge_targets(previous.edges) if previous is not None else set())
        records = _records_of(version, is_head=True)
        self.kv.put_many(records + _user_records(version.uid, targets))
        return records[0][1]  # the version's own record comes first

    def rewrite(self, version: Version, *, is_head: bool) -> None:
        """Write an existing version's bytes again (for the changelog); nothing changes."""
        self.kv.put_many(_records_of(version, is_head=is_head) + _user_records(version.uid, edge_targets(version.edges)))

    def users_of(self, target: str) -> Iterator[str]:
        """Uids of resources some kept version of which has an edge to ``target`` (a superset of
        its users at any one time: check the version valid then)."""
        prefix = users_prefix(target)
        for key, _ in self.kv.scan(prefix):
            yield key[len(prefix):].decode()

    def get_version(self, uid: str, version: int) -> Version | None:
        data = self.kv.get(version_key(uid, version))
        return Version.from_bytes(uid, data) if data is not None else None

    def versions_of(self, entries: list[TimeEntry]) -> list[Version]:
        """The versions ``entries`` name that the store holds, in their order, read together."""
        found = self.kv.get_many([version_key(entry.uid, entry.version) for entry in entries])
        return [Version.from_bytes(entry.uid, data) for entry, data in zip(entries, found, strict=True)
                if data is not None]

    def shard_members(self, shard: str) -> Iterator[str]:
        for uid, _ in self.shard_member_ids(shard):
            yield uid

    def shard_member_ids(self, shard: str) -> Iterator[tuple[str, str | None]]:
        """Members of a shard with their resources' ids (None where a store written before
        membership kept the id): a scan marker tells the seen from the gone without reading heads."""
        prefix = member_key(shard, "")
        for key, value in self.kv.scan(prefix):
            yield key[len(prefix):].decode(), value.decode() if value else None

    def members_among(self, shard: str, uids: list[str]) -> list[str]:
        """Those of ``uids`` that are members of ``shard``, in order (one MultiGet)."""
        found = self.kv.get_many([member_key(shard, uid) for uid in uids])
        return [uid for uid, value in zip(uids, found, strict=True) if value is not None]

    def changed_in_shard(self, shard: str, after: int) -> list[str]:
        """Uids with a version written for ``shard`` that began after ``after`` (micros), once each,
        in uid order as ``shard_members`` lists them. Complete only for versions written since the
        store kept this index (the waste analyzer records from when: streams/store/waste.py)."""
        start, end = shard_changes_after(shard, after)
        return sorted({shard_change_uid(key) for key, _ in self.kv.scan_range(start, end)})

    def forget_member(self, shard: str, uid: str) -> None:
        self.kv.delete(member_key(shard, uid))

    def members_after(self, after: bytes, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` memberships ``(shard, uid)`` whose key sorts after ``after`` (a cursor)."""
        found = []
        for key, _ in self.kv.scan_range(max(after + SEP, MEMBERS_START), MEMBERS_END):
            shard, uid = key[2:].decode().split("\x00", 1)
            found.append((shard, uid))
            if len(found) == limit:
                break
        return found

    def move_member(self, uid: str, old_shard: str, new_shard: str) -> None:
        self.kv.put(member_key(new_shard, uid), self.kv.get(member_key(old_shard, uid)) or b"")
        self.kv.delete(member_key(old_shard, uid))

    def shard_layout(self) -> ShardLayout | None:
        data = self.kv.get(LAYOUT_KEY)
        return ShardLayout(**orjson.loads(data)) if data is not None else None

    def record_shard_layout(self, layout: ShardLayout) -> None:
        self.kv.put(LAYOUT_KEY, orjson.dumps(layout.__dict__))

    def drop_scan_records(self) -> int:
        """Forget every shard's last scan (their shards mean other buckets after a layout change)."""
        return drop_prefix(self.kv, SCANS_PREFIX)

    def versions(self, uid: str) -> list[Version]:
        """All versions of a resource, oldest first, with ``valid_to`` filled in."""
        stored = [Version.from_bytes(uid, data) for _, data in self.kv.scan(versions_prefix(uid))]
        return [
            _with_valid_to(v, stored[i + 1].valid_from if i + 1 < len(stored) else None)
            for i, v in enumerate(stored)
        ]

    def as_of(self, uid: str, moment: datetime) -> Version | None:
        """The version valid at ``moment`` (None if absent or deleted then, or older than retention)."""
        head = self.head_lead(uid)
        return self.version_at(head, to_micros(moment)) if head is not None else None

    def version_at(self, head: RecordLead, t: int) -> Version | None:
        """The version of ``head``'s resource valid at ``t`` (None if absent or deleted then)."""
        found = head.full() if head.valid_from <= t else self._latest_started_by(head, t)
        return None if found is None or found.deleted else found

    def _latest_started_by(self, head: RecordLead, t: int) -> Version | None:
        """Binary search of versions older than the head: the last one with valid_from <= t.

        A missing version was dropped by retention, so it is older than every kept one.
        """
        lo, hi, found, starts = 1, head.version - 1, None, {head.version: head.valid_from}
        while lo <= hi:
            mid = (lo + hi) // 2
            candidate = self._version_lead(head.uid, mid)
            starts[mid] = candidate.valid_from if candidate else None
            if candidate is None or candidate.valid_from <= t:
                found, lo = candidate or found, mid + 1
            else:
                hi = mid - 1
        if found is None:
            return None
        if found.version + 1 not in starts:
            after = self._version_lead(head.uid, found.version + 1)
            starts[found.version + 1] = after.valid_from if after else None
        return _with_valid_to(found.full(), starts[found.version + 1])

    def _version_lead(self, uid: str, version: int) -> RecordLead | None:
        data = self.kv.get(version_key(uid, version))
        return RecordLead.from_bytes(uid, data) if data is not None else None

    def changed_between(self, start: int, end: int, *, after: TimeEntry | None = None) -> Iterator[TimeEntry]:
        """Time-index entries of versions that began in ``[start, end)``, oldest first.

        ``after`` resumes a walk strictly after that entry (a cursor).
        """
        first = max(time_bound(start), after.key + SEP) if after else time_bound(start)
        for key, _ in self.kv.scan_range(first, time_bound(end)):
            yield TimeEntry.from_key(key)

    def versions_below(self, uid: str, version: int) -> list[Version]:
        """Stored versions of ``uid`` numbered below ``version``, oldest first."""
        scanned = self.kv.scan_range(version_key(uid, 0), version_key(uid, version))
        return [Version.from_bytes(uid, data) for _, data in scanned]

    def drop_time_entry(self, entry: TimeEntry) -> None:
        self.kv.delete(entry.key)

    def drop_versions(self, versions: Iterable[Version]) -> None:
        """Forget old versions (retention): their records, their time-index entries, their
        findings, and the "used by" entries of edges no kept version of the resource has."""
        dropped: dict[str, set[str]] = {}
        for version in versions:
            self.kv.delete(version_key(version.uid, version.version))
            self.kv.delete(time_key(version.valid_from, version.uid, version.version))
            self.kv.delete(shard_change_key(version.shard, version.valid_from, version.uid, version.version))
            for key, _ in list(self.kv.scan(findings_prefix(version.uid, version.version))):
                self.kv.delete(key)
            dropped.setdefault(version.uid, set()).update(edge_targets(version.edges))
        for uid, targets in dropped.items():
            self._forget_users(uid, targets)

    def _forget_users(self, uid: str, targets: set[str]) -> None:
        for _, data in self.kv.scan(versions_prefix(uid)) if targets else ():
            targets -= edge_targets(Version.from_bytes(uid, data).edges)  # still used by a kept version
            if not targets:
                return
        for target in targets:
            self.kv.delete(user_key(target, uid))

    def remove_resource(self, head: Version, versions: Iterable[Version]) -> None:
        """Forget a resource entirely (a tombstone older than retention)."""
        # The head first: a head naming a version already dropped would stop every reader of it.
        self.kv.delete(head_key(head.uid))
        self.drop_versions(versions)
        for shard in self._member_shards(head):
            self.forget_member(shard, head.uid)

    def _member_shards(self, head: Version) -> set[str]:
        """Where ``head``'s membership may be: its own shard, or where a layout change moved it."""
        layout = self.shard_layout()
        return {head.shard} | ({rebucket(head.shard, head.uid, layout.shard_buckets)} if layout else set())

    def get_cursor(self, name: str) -> bytes | None:
        return self.kv.get(cursor_key(name))

    def set_cursor(self, name: str, value: bytes) -> None:
        self.kv.put(cursor_key(name), value)

    def record_scan(self, shard: str, marker: dict[str, Any]) -> None:
        self.kv.put(scan_key(shard), orjson.dumps(marker))

    def last_scan(self, shard: str) -> dict[str, Any] | None:
        data = self.kv.get(scan_key(shard))
        return orjson.loads(data) if data is not None else None

    def uids(self) -> Iterator[str]:
        """Every resource the store knows, in uid order, without decoding a record."""
        prefix = HEADS_PREFIX
        for key, _ in self.kv.scan(prefix):
            yield key[len(prefix):].decode()

    def head_leads(self) -> Iterator[RecordLead]:
        """Every head's leading fields, in uid order (decode with ``full()`` where needed)."""
        prefix, kv = HEADS_PREFIX, self.kv
        for key, data in kv.scan(prefix):
            yield RecordLead.from_bytes(key[len(prefix):].decode(), data, kv)

    def heads(self, batch: int = 256) -> Iterator[Version]:
        """Every head, whole, in uid order: the versions the heads name, read ``batch`` at a time."""
        leads: list[RecordLead] = []
        for lead in self.head_leads():
            leads.append(lead)
            if len(leads) == batch:
                yield from self._whole(leads)
                leads = []
        yield from self._whole(leads)

    def _whole(self, leads: list[RecordLead]) -> list[Version]:
        return [lead.full() for lead in self.whole_leads(leads)]  # a version not found: full() says so


def _records_of(version: Version, *, is_head: bool) -> list[tuple[bytes, bytes]]:
    """The keys one version writes: its record, the head, its time-index entries (the partition's
    and its shard's), membership (holding the resource's id, which scan markers list)."""
    records = [(version_key(version.uid, version.version), version.to_bytes())]
    if is_head:
        records.append((head_key(version.uid), head_record(version)))
    records.append((time_key(version.valid_from, version.uid, version.version), b""))
    records.append((shard_change_key(version.shard, version.valid_from, version.uid, version.version), b""))
    if version.kind == "created":
        resource_id = (version.resource or {}).get("id") or ""
        records.append((member_key(version.shard, version.uid), str(resource_id).encode()))
    return records


def edge_targets(edges: dict[str, list[str]]) -> set[str]:
    return {target for targets in edges.values() for target in targets}


def _user_records(source: str, targets: Iterable[str]) -> list[tuple[bytes, bytes]]:
    return [(user_key(target, source), b"") for target in sorted(targets)]


def _with_valid_to(version: Version, valid_to: int | None) -> Version:
    if valid_to is None:
        return version
    return version.but(valid_to=valid_to)
