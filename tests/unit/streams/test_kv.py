"""RocksKV's range reader answers every range as a fresh scan would, though it skips seeks."""

from __future__ import annotations

import random

from streams.store.kv import RocksKV


def _expected(keys: list[bytes], start: bytes, end: bytes) -> list[bytes]:
    return [key for key in keys if start <= key < end]


def test_a_reader_that_skips_seeks_in_spans_it_found_empty_reads_what_a_scan_reads(tmp_path):
    rnd = random.Random(5)
    alphabet = b"abcdefgh"
    kv = RocksKV(tmp_path / "store")
    try:
        for trial in range(40):
            keys = sorted({bytes(rnd.choice(alphabet) for _ in range(rnd.randint(1, 4)))
                           for _ in range(rnd.choice((0, 1, 3, 30)))})
            for key in list(kv.scan(b"")):
                kv.delete(key[0])
            kv.put_many([(key, b"v" + key) for key in keys])
            stored = [key for key, _ in kv.scan(b"")]  # with the store's own format key
            reader = kv.ranges()
            for _ in range(300):
                start = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 4)))
                end = start + bytes([rnd.randint(0, 255)]) if rnd.random() < 0.7 else \
                    bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 4)))
                found = reader.items(start, end)
                assert [key for key, _ in found] == _expected(stored, start, end), (trial, start, end)
                assert all(value == kv.get(key) for key, value in found)
            del reader  # its iterator, before the store changes and closes
    finally:
        kv.close()


class CountingIterator:
    """A RocksDB iterator that counts its seeks."""

    def __init__(self, iterator) -> None:
        self.iterator, self.seeks = iterator, 0

    def seek(self, key: bytes) -> None:
        self.seeks += 1
        self.iterator.seek(key)

    def __getattr__(self, name: str):
        return getattr(self.iterator, name)


class CountingDb:
    def __init__(self, db) -> None:
        self.db, self.made = db, []

    def iter(self):
        self.made.append(CountingIterator(self.db.iter()))
        return self.made[-1]


def test_a_page_of_empty_reads_in_no_order_needs_few_seeks(tmp_path):
    kv = RocksKV(tmp_path / "store")
    try:
        kv.put(b"v\x00x", b"a version")
        reader = kv.ranges()
        db = reader._db = CountingDb(reader._db)
        for n in random.Random(3).sample(range(100_000), 500):
            uid = f"arn:{n:05d}".encode()
            assert reader.items(b"e\x00" + uid + b"\x00", b"e\x00" + uid + b"\x01") == []
        assert len(db.made) == 1 and db.made[0].seeks < 20  # the smallest so far, ~ln(500)
        assert reader.items(b"v\x00", b"v\x01") == [(b"v\x00x", b"a version")]  # past the span: read
        del reader, db
    finally:
        kv.close()


def _cache_capacity(db) -> int:
    return int(db.property_value("rocksdb.block-cache-capacity"))


def test_a_store_reopened_keeps_its_table_options(tmp_path):
    """rocksdict gives an existing database's column families RocksDB's default table options
    unless they are named: an 8 MiB cache and no bloom filter from the first reopen on."""
    from streams.store.kv import BLOCK_CACHE_MIB, MIB

    RocksKV(tmp_path / "store").close()
    for reopened in (RocksKV(tmp_path / "store"), RocksKV(tmp_path / "store", read_only=True)):
        try:
            assert _cache_capacity(reopened._db) == BLOCK_CACHE_MIB * MIB
        finally:
            reopened.close()


def test_a_worker_partition_reopened_shares_the_workers_cache(tmp_path):
    from streams.drivers.worker.worker_rocksdb import SharedMemoryRocksDB

    options = SharedMemoryRocksDB(memory_mib=48, write_buffer_mib=4, write_buffers=2)
    options.open(tmp_path / "partition").close()
    reopened = options.open(tmp_path / "partition")
    try:
        assert _cache_capacity(reopened) == 48 * 1024 * 1024
    finally:
        reopened.close()


def test_a_database_with_column_families_of_its_own_is_refused_as_not_a_store(tmp_path):
    import pytest
    import rocksdict

    from elava.exceptions import StoreError

    foreign = rocksdict.Rdict(str(tmp_path / "other"), options=rocksdict.Options(raw_mode=True))
    foreign.create_column_family("extra", rocksdict.Options(raw_mode=True))
    foreign.put(b"k", b"v")
    foreign.close()
    with pytest.raises(StoreError, match="not an Elava store"):
        RocksKV(tmp_path / "other")
