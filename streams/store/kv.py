"""Byte-level key/value backends under the versioned store.

Backends implement get/put/delete and ordered prefix and range scans; everything
above (versions, heads, shard membership, the time index) is layout, not storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from elava.exceptions import StoreError

STORE_FORMAT = b"elava-mvcc-1"
FORMAT_KEY = b"\x00format"
# Block compression of new files, measured in docs/benchmarks.md ("MVCC store (embedded)"):
# lz4 where data is fresh and rewritten soon, zstd on the last level where ~90% of it rests,
# and 16 KB blocks so a block holds a dozen versions of one resource that compress
# against each other (3.2x smaller than RocksDB's default snappy/4 KB, as-of p99 ~75 µs).
COMPRESSION = "lz4"
BOTTOMMOST_COMPRESSION: str | None = "zstd"
BLOCK_SIZE = 16384
# The embedded store's block cache (RocksDB's default is 8 MiB): a scan compares each page with its
# resources' heads, spread over the whole keyspace, so a cache smaller than the heads re-reads and
# decompresses a block per resource (docs/benchmarks.md, "The store's options on reopen").
BLOCK_CACHE_MIB = 256
MIB = 1024 * 1024


class KV(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def get_many(self, keys: list[bytes]) -> list[bytes | None]: ...  # in the keys' order
    def put(self, key: bytes, value: bytes) -> None: ...
    def put_many(self, items: list[tuple[bytes, bytes]]) -> None: ...
    def delete(self, key: bytes) -> None: ...
    def write(self, items: Iterable[tuple[bytes, bytes | None]]) -> None: ...  # puts and deletions (None), all or nothing
    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...
    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]: ...
    def ranges(self) -> RangeReader: ...  # for many short range reads in a row (RangeReader)


class RangeReader(Protocol):
    """Many short ranges read in a row, each as a list (so no two reads interleave). A reader may
    see the store as it was at its first read: use one where nothing writes what it reads
    between its reads (the evidence of one page: streams/store/evidence.py), then drop it."""

    def items(self, start: bytes, end: bytes) -> list[tuple[bytes, bytes]]: ...

    def any_in(self, start: bytes, end: bytes) -> bool:
        """Whether the range holds a key (reading at most one)."""
        ...


class ScanningReader:
    """Each range read by the KV's own ``scan_range`` (a backend without iterators to reuse)."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def items(self, start: bytes, end: bytes) -> list[tuple[bytes, bytes]]:
        return list(self.kv.scan_range(start, end))

    def any_in(self, start: bytes, end: bytes) -> bool:
        return next(iter(self.kv.scan_range(start, end)), None) is not None


class IteratorReader:
    """Ranges read through one RocksDB iterator, made at the first read and moved by ``seek``:
    ~2 µs for an empty range instead of ~7 with an iterator made for each (docs/benchmarks.md).
    Being one iterator, it reads the store as it was when it was made.

    It remembers one span it found empty (from a range's start to the first key after it): a
    range inside that span is empty without a seek. A page's evidence reads are nearly all
    empty, in no order, so the span grows to cover them after a few seeks."""

    def __init__(self, db) -> None:
        self._db = db
        self._iterator = None
        self._empty: tuple[bytes, bytes | None] | None = None  # [start, end) holding no key; None: to the last

    def items(self, start: bytes, end: bytes) -> list[tuple[bytes, bytes]]:
        iterator = self._at(start, end)
        if iterator is None:
            return []
        found = []
        while iterator.valid():
            key = iterator.key()
            if key >= end:
                break
            found.append((key, iterator.value()))
            iterator.next()
        if not found:
            self._learn_empty(start, iterator.key() if iterator.valid() else None)
        return found

    def any_in(self, start: bytes, end: bytes) -> bool:
        iterator = self._at(start, end)
        if iterator is None:
            return False
        first = iterator.key() if iterator.valid() else None
        if first is not None and first < end:
            return True
        self._learn_empty(start, first)
        return False

    def _at(self, start: bytes, end: bytes):
        """The iterator moved to ``start``; None when ``[start, end)`` lies in the span known empty."""
        empty = self._empty
        if empty is not None and empty[0] <= start and (empty[1] is None or end <= empty[1]):
            return None
        if self._iterator is None:
            self._iterator = self._db.iter()
        self._iterator.seek(start)
        return self._iterator

    def _learn_empty(self, start: bytes, first_after: bytes | None) -> None:
        """[start, first_after) holds no key: joined to the span known, if they meet, else instead of it."""
        known = self._empty
        meets = known is not None and (known[1] is None or start <= known[1]) \
            and (first_after is None or first_after >= known[0])
        if not meets:
            self._empty = (start, first_after)
            return
        high = None if first_after is None or known[1] is None else max(first_after, known[1])
        self._empty = (min(start, known[0]), high)


class StoreLockedError(StoreError):
    """Another process holds the store (RocksDB allows one writer at a time)."""


def prefix_scan(db, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Ordered items of a raw-mode Rdict whose key starts with ``prefix``."""
    for key, value in db.items(from_key=prefix):
        if not key.startswith(prefix):
            return
        yield key, value


def range_scan(db, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Ordered items of a raw-mode Rdict with ``start <= key < end``."""
    for key, value in db.items(from_key=start):
        if key >= end:
            return
        yield key, value


def batch_of(write_batch, items: Iterable[tuple[bytes, bytes | None]]):
    """A raw-mode rocksdict WriteBatch of puts and deletions (``None``)."""
    batch = write_batch(raw_mode=True)
    for key, value in items:
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    return batch


class MemoryKV:
    """A dict-backed KV for tests of the layers above storage."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def get_many(self, keys: list[bytes]) -> list[bytes | None]:
        return [self.get(key) for key in keys]

    def put(self, key: bytes, value: bytes) -> None:
        self._data[key] = value

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        for key, value in items:
            self.put(key, value)

    def delete(self, key: bytes) -> None:
        self._data.pop(key, None)

    def write(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        for key, value in items:
            if value is None:
                self.delete(key)
            else:
                self.put(key, value)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(k for k in self._data if k.startswith(prefix)):
            yield key, self._data[key]

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(k for k in self._data if start <= k < end):
            yield key, self._data[key]

    def ranges(self) -> RangeReader:
        return ScanningReader(self)


def drop_prefix(kv: KV, prefix: bytes) -> int:
    """Delete every key under ``prefix``; how many there were (read first: no write during a scan)."""
    keys = [key for key, _ in kv.scan(prefix)]
    for key in keys:
        kv.delete(key)
    return len(keys)


class RdictKV:
    """A KV over a raw-mode rocksdict handle someone else opened and closes (a worker's table partition)."""

    def __init__(self, db) -> None:
        import rocksdict  # imported here so the core stays importable without it

        self._db, self._write_batch = db, rocksdict.WriteBatch
        self.get, self.put, self.delete = db.get, db.put, db.delete
        self.get_many = db.get  # given a list, rocksdict answers with one RocksDB MultiGet

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        """All or nothing: a version and its head, time-index entry and membership together."""
        self.write(items)

    def write(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        self._db.write(batch_of(self._write_batch, items))

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return prefix_scan(self._db, prefix)

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return range_scan(self._db, start, end)

    def ranges(self) -> RangeReader:
        return IteratorReader(self._db)


class RocksKV:
    """The embedded backend: one RocksDB directory through rocksdict (raw bytes).

    ``read_only`` opens without taking RocksDB's lock, so queries can read while a
    scan or a worker writes; such a handle refuses every write. ``write_ahead_log=False``:
    see ``for_scan``.
    """

    def __init__(self, path: Path, *, read_only: bool = False, compression: str = COMPRESSION,
                 bottommost_compression: str | None = BOTTOMMOST_COMPRESSION, block_size: int = BLOCK_SIZE,
                 write_ahead_log: bool = True) -> None:
        import rocksdict  # imported here so the core stays importable without it

        self.path = path
        self.read_only = read_only
        self._flush_on_close = not (write_ahead_log or read_only)
        if read_only and not (path / "CURRENT").exists():
            raise StoreError(f"no store at {path} yet (run `elava scan` first, or set storage.path)")
        if not read_only:
            path.mkdir(parents=True, exist_ok=True)
        access = rocksdict.AccessType.read_only() if read_only else rocksdict.AccessType.read_write()
        self._cache = rocksdict.Cache(BLOCK_CACHE_MIB * MIB)  # outlives the database opened with it
        options = store_options(compression, bottommost_compression, block_size, self._cache)
        try:
            self._db = open_rdict(path, options, access)
        except Exception as exc:  # rocksdict raises plain Exception on open failures
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"the store at {path} is in use by another process (an `elava scan` or a worker?); "
                    "RocksDB lets one process write at a time: try again when it has finished") from exc
            raise StoreError(f"cannot open store at {path}: {exc}") from exc
        if self._flush_on_close:
            unlogged = rocksdict.WriteOptions()
            unlogged.disable_wal = True
            self._db.set_write_options(unlogged)
        self._check_format()

    @classmethod
    def for_scan(cls, path: Path) -> RocksKV:
        """The store as a scan (`elava scan`, `watch`, `demo`) writes it: without RocksDB's
        write-ahead log (~8 % of a first scan's time, docs/benchmarks.md), flushed when closed.

        A scan killed before it closes the store loses the writes RocksDB had not flushed yet:
        the store holds a prefix of the scan's inputs (each input is one write batch, flushed in
        order), as if the scan had stopped earlier, and the next scan makes the rest again.
        None of what it lost was reported: a scan reports when it ends. A reader opened while it
        runs (``read_only``) sees the store as of RocksDB's last flush, not the scan's latest writes.
        """
        return cls(path, write_ahead_log=False)

    def _check_format(self) -> None:
        found = self._db.get(FORMAT_KEY)
        if found is None:
            if any(True for _ in self._db.keys()):
                raise StoreError(f"{self.path} holds a RocksDB database that is not an Elava store")
            if not self.read_only:
                self._db.put(FORMAT_KEY, STORE_FORMAT)
        elif found != STORE_FORMAT:
            raise StoreError(f"{self.path} is an Elava store of another format ({found!r})")

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def get_many(self, keys: list[bytes]) -> list[bytes | None]:
        """One RocksDB MultiGet (rocksdict's ``get`` of a list): a page's heads in one call."""
        return self._db.get(keys)

    def put(self, key: bytes, value: bytes) -> None:
        self._db.put(key, value)

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        """All or nothing, and one write to the log instead of one per key."""
        self.write(items)

    def write(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        import rocksdict

        self._db.write(batch_of(rocksdict.WriteBatch, items))

    def delete(self, key: bytes) -> None:
        self._db.delete(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return prefix_scan(self._db, prefix)

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return range_scan(self._db, start, end)

    def ranges(self) -> RangeReader:
        return IteratorReader(self._db)

    def compact(self) -> None:
        """Flush the memtable and compact every file (for measuring bytes on disk)."""
        self._db.flush()
        self._db.compact_range(None, None)

    def close(self) -> None:
        if self._flush_on_close:  # without the log, what is only in memory would not survive the process
            self._db.flush()
        self._db.close()


def open_rdict(path: Path, options: Any, access: Any) -> Any:
    """A raw-mode Rdict opened with ``options`` whether it exists or not. Reopening a database,
    rocksdict gives its existing column families RocksDB's default table options unless they
    are named with their options: an 8 MiB block cache and no bloom filter, from the first
    restart on (a guard test in tests/unit/streams/test_kv.py). Every column family it holds is
    named (a read-write open must open them all)."""
    import rocksdict

    try:
        names = rocksdict.Rdict.list_cf(str(path))
    except Exception:  # rocksdict raises plain Exception: no database there yet
        names = ["default"]
    return rocksdict.Rdict(str(path), options=options, column_families={name: options for name in names},
                           access_type=access)


def store_options(compression: str, bottommost: str | None, block_size: int, cache: Any):
    import rocksdict

    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_compression_type(getattr(rocksdict.DBCompressionType, compression)())
    if bottommost:
        options.set_bottommost_compression_type(getattr(rocksdict.DBCompressionType, bottommost)())
    table = rocksdict.BlockBasedOptions()
    table.set_block_size(block_size)
    table.set_bloom_filter(10, False)  # a head lookup for a new uid is a miss: skip files cheaply
    table.set_block_cache(cache)
    options.set_block_based_table_factory(table)
    return options
