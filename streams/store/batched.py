"""A KV whose writes wait for ``flush`` and then reach the backend as one write batch.

The worker and the embedded driver apply an input (a page of up to a few hundred
resources, a marker) as a unit: each new version wrote its records as one RocksDB batch
with its own write-ahead-log entry, ~14 µs a version, against ~7 µs when a page's
versions go as one batch (docs/benchmarks.md). Here the input's writes are kept, in
order, until the driver flushes them when the input is handled (also when handling it
failed: what was applied before the failure is kept, as it was before).

Reads see the writes not yet flushed: a key read back gets its pending value, and a scan
whose range holds a pending key flushes first (merging pending keys into RocksDB's ordered
iterator is not worth it: the processing core reads nothing it wrote within one input, a
test holds it to that, so only chunked messages' parts and retention's walks flush early).
Pure core: no Kafka, no Faust.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator

from streams.store.kv import KV, RangeReader


class BatchedWrites:
    """``kv`` with writes gathered until ``flush`` (all or nothing, one write-ahead-log entry)."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv
        self._pending: dict[bytes, bytes | None] = {}  # None: a deletion
        # The pending keys by keyspace (their first byte), sorted only when a scan's range asks
        # whether it holds one: a page's reads range over keyspaces it does not write (evidence),
        # so the ~0.4 µs of keeping one list sorted at every put is mostly spared.
        self._spaces: dict[bytes, list[bytes]] = {}
        self._unsorted: set[bytes] = set()
        self.flushes = 0  # batches written: a reader of the backend made before the last one is behind

    def get(self, key: bytes) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        return self.kv.get(key)

    def get_many(self, keys: list[bytes]) -> list[bytes | None]:
        if not self._pending:
            return self.kv.get_many(keys)
        found = self.kv.get_many(keys)
        pending = self._pending
        return [pending[key] if key in pending else value for key, value in zip(keys, found, strict=True)]

    def put(self, key: bytes, value: bytes | None) -> None:
        if key not in self._pending:
            space = key[:1]
            keys = self._spaces.get(space)
            if keys is None:
                self._spaces[space] = [key]
            else:
                keys.append(key)
                self._unsorted.add(space)
        self._pending[key] = value

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        self.write(items)

    def delete(self, key: bytes) -> None:
        self.put(key, None)

    def write(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        for key, value in items:
            self.put(key, value)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        if self._first_pending_from(prefix, prefix[:1] or None, lambda key: key.startswith(prefix)):
            self.flush()
        return self.kv.scan(prefix)

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        self._flush_if_pending_in(start, end)
        return self.kv.scan_range(start, end)

    def ranges(self) -> RangeReader:
        return _FlushingReader(self)

    def _flush_if_pending_in(self, start: bytes, end: bytes) -> None:
        if self._first_pending_from(start, end[:1], lambda key: key < end):
            self.flush()

    def _first_pending_from(self, start: bytes, last_space: bytes | None, within: Callable[[bytes], bool]) -> bool:
        """Whether the first pending key at or after ``start`` in each keyspace up to ``last_space``
        (None: every one) is ``within`` the range."""
        for space, keys in self._spaces.items():
            if space < start[:1] or (last_space is not None and space > last_space):
                continue
            if space in self._unsorted:
                keys.sort()
                self._unsorted.discard(space)
            at = bisect_left(keys, start)
            if at < len(keys) and within(keys[at]):
                return True
        return False

    def flush(self) -> None:
        """The pending writes, in one batch; nothing is pending after it (even if the write fails:
        the driver handles the input again, as after a crash)."""
        if not self._pending:
            return
        pending, self._pending, self._spaces, self._unsorted = self._pending, {}, {}, set()
        self.flushes += 1
        self.kv.write(pending.items())


class _FlushingReader:
    """The backend's reader, with this KV's rule for scans: a range holding a pending write is
    flushed first, and the backend's reader is made again after any flush (it would be behind)."""

    def __init__(self, writes: BatchedWrites) -> None:
        self._writes = writes
        self._reader: RangeReader | None = None
        self._made_after = -1  # the flushes its reader has seen

    def items(self, start: bytes, end: bytes) -> list[tuple[bytes, bytes]]:
        return self._current(start, end).items(start, end)

    def any_in(self, start: bytes, end: bytes) -> bool:
        return self._current(start, end).any_in(start, end)

    def _current(self, start: bytes, end: bytes) -> RangeReader:
        """The backend's reader, once the range's pending writes are flushed."""
        writes = self._writes
        writes._flush_if_pending_in(start, end)
        if self._reader is None or self._made_after != writes.flushes:
            self._reader, self._made_after = writes.kv.ranges(), writes.flushes
        return self._reader
