"""What a store's changelog carries, and how a store is rebuilt from it.

In the worker every write to a partition's store is also a record on the table's
changelog topic, which restores the store after a crash or on another worker. A new
version writes four keys (its record, the head, its time-index entry and, for a
creation, its shard membership), two of them the same ~1.3 KB record. The head and the
time index are functions of the version records (streams/store/keyspaces.py, "derived"):
the changelog carries the versions and the membership, and ``restore`` rebuilds the
rest as it applies each record. A created resource is two records, a modified one one.

Deletions are all carried, derived keys' too: they are small and rare (retention), and
they make a compacted changelog forget derived keys that older workers still wrote.

Restoring is exact whatever compaction kept: a head is the latest record of the highest
version present, a time-index entry exists while its version does, and neither
depends on which of the records before them compaction dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from streams.store.keyspaces import SEP, head_key, is_derived, time_key, versions_prefix
from streams.store.kv import KV
from streams.store.versioned import RecordLead

Emit = Callable[[bytes, bytes | None], None]
_VERSION = b"v" + SEP


class Changelogged:
    """A KV whose writes are also handed to ``emit`` as changelog records (``None``: a deletion),
    writes of derived keys left out."""

    def __init__(self, kv: KV, emit: Emit) -> None:
        self.kv, self.emit = kv, emit
        # Reads are most of the traffic: straight to the KV, without a frame of this one.
        self.get, self.scan, self.scan_range = kv.get, kv.scan, kv.scan_range

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
    uid, number = key[2:-5].decode(), int.from_bytes(key[-4:], "big")
    before = kv.get(key)
    if before is not None:  # a record written again (attribution): its start never moves, but be exact
        kv.delete(time_key(RecordLead.from_bytes(uid, before).valid_from, uid, number))
    head = kv.get(head_key(uid))
    head_number = RecordLead.from_bytes(uid, head).version if head is not None else None
    if value is None:
        kv.delete(key)
        if head_number == number:
            _promote_latest(kv, uid)
        return
    lead = RecordLead.from_bytes(uid, value)
    records = [(key, value), (time_key(lead.valid_from, uid, number), b"")]
    if head_number is None or head_number <= number:
        records.append((head_key(uid), value))
    kv.put_many(records)


def _promote_latest(kv: KV, uid: str) -> None:
    """The head's version went: the highest version left is the head, if any is."""
    latest = _last(kv.scan(versions_prefix(uid)))
    if latest is None:
        kv.delete(head_key(uid))
    else:
        kv.put(head_key(uid), latest[1])


def _last(items: Iterator[tuple[bytes, bytes]]) -> tuple[bytes, bytes] | None:
    last = None
    for last in items:  # noqa: B007 (the loop keeps the last)
        pass
    return last
