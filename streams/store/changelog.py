"""What a store's changelog carries, and how a store is rebuilt from it.

In the worker every write to a partition's store is also a record on the table's
changelog topic, which restores the store after a crash or on another worker. A new
version writes five keys or more (its record of ~1.3 KB, the head of ~200 bytes, its entries in
the partition's and its shard's time indexes, for a creation its shard membership, and a "used
by" entry per new edge). The head, the time indexes and the "used by" entries are functions
of the version records (streams/store/keyspaces.py, "derived"): the changelog carries
the versions and the membership, and ``restore`` rebuilds the rest as it applies each
record. A created resource is two records, a modified one one. Every other keyspace
(evidence, findings, scans, parts, waste, cursors, layout) travels as written.

Deletions are all carried, derived keys' too: they are small and rare (retention drops
a resource's versions, their time-index entries and then its head), and they make a
compacted changelog forget derived keys that older workers still wrote.

Restoring is exact whatever compaction kept: a head is the latest record of the highest
version present, a time-index entry exists while its version does, a "used by" entry
while some version with that edge does (retention deletes it, in the log, after the
last such version's deletion), and none depends on which of the records before them
compaction dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from streams.store.keyspaces import SEP, head_key, is_derived, shard_change_key, time_key, user_key
from streams.store.kv import KV
from streams.store.records import RecordLead, Version, head_record_of
from streams.store.versioned import edge_targets

Emit = Callable[[bytes, bytes | None], None]
_VERSION = b"v" + SEP
_EDGES_FIELD = b'"edges":'  # Version.to_bytes leaves the field out when there are none


class Changelogged:
    """A KV whose writes are also handed to ``emit`` as changelog records (``None``: a deletion),
    writes of derived keys left out."""

    def __init__(self, kv: KV, emit: Emit) -> None:
        self.kv, self.emit = kv, emit
        # Reads are most of the traffic: straight to the KV, without a frame of this one.
        self.get, self.get_many, self.scan, self.scan_range = kv.get, kv.get_many, kv.scan, kv.scan_range
        self.ranges = kv.ranges

    def put(self, key: bytes, value: bytes) -> None:
        self.kv.put(key, value)
        if not is_derived(key):
            self.emit(key, value)

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        self.kv.put_many(items)
        for key, value in items:
            if not is_derived(key):
                self.emit(key, value)

    def delete(self, key: bytes) -> None:
        self.kv.delete(key)
        self.emit(key, None)


def restore_all(kv: KV, records: Iterable[tuple[bytes, bytes | None]]) -> None:
    for key, value in records:
        restore(kv, key, value)


def restore(kv: KV, key: bytes, value: bytes | None) -> None:
    """Apply one changelog record to ``kv``, and what derives from it."""
    if key.startswith(_VERSION):
        _restore_version(kv, key, value)
    elif value is None:
        kv.delete(key)
    else:
        kv.put(key, value)


def _restore_version(kv: KV, key: bytes, value: bytes | None) -> None:
    if value is None:  # retention: the version's time-index entry and head go by their own deletions
        kv.delete(key)
        return
    uid, number = key[2:-5].decode(), int.from_bytes(key[-4:], "big")
    lead, before = RecordLead.from_bytes(uid, value), kv.get(key)
    if before is not None:  # never so today (a rewrite keeps start and shard): be exact
        was = RecordLead.from_bytes(uid, before)
        if was.valid_from != lead.valid_from:
            kv.delete(time_key(was.valid_from, uid, number))
        if (was.valid_from, was.shard()) != (lead.valid_from, lead.shard()):
            kv.delete(shard_change_key(was.shard(), was.valid_from, uid, number))
    records = [(key, value), (time_key(lead.valid_from, uid, number), b""),
               (shard_change_key(lead.shard(), lead.valid_from, uid, number), b""), *_users(uid, value)]
    head = kv.get(head_key(uid))
    if head is None or RecordLead.from_bytes(uid, head).version <= number:
        records.append((head_key(uid), head_record_of(uid, value)))
    kv.put_many(records)


def _users(uid: str, value: bytes) -> list[tuple[bytes, bytes]]:
    """The "used by" entries of a version's edges (VersionStore.append writes the same)."""
    if _EDGES_FIELD not in value:  # most records: no decoding
        return []
    return [(user_key(target, uid), b"") for target in sorted(edge_targets(Version.from_bytes(uid, value).edges))]
