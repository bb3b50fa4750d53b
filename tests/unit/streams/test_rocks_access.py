"""Opening the embedded store: one writer, any number of read-only readers, clear errors."""

import pytest

from elava.exceptions import StoreError
from streams.store.kv import RocksKV, StoreLockedError


@pytest.fixture
def writer(tmp_path):
    kv = RocksKV(tmp_path / "store")
    kv.put(b"t\x00a", b"1")
    kv.put(b"t\x00b", b"2")
    kv.put(b"t\x00c", b"3")
    yield kv
    kv.close()


def test_a_second_writer_is_told_the_store_is_in_use(writer, tmp_path):
    with pytest.raises(StoreLockedError, match="in use by another process"):
        RocksKV(tmp_path / "store")


def test_a_reader_reads_while_the_writer_holds_the_store_and_cannot_write(writer, tmp_path):
    reader = RocksKV(tmp_path / "store", read_only=True)
    try:
        assert reader.get(b"t\x00b") == b"2"
        with pytest.raises(Exception, match="read only"):
            reader.put(b"x", b"y")
    finally:
        reader.close()


def test_reading_a_store_that_does_not_exist_says_so_and_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        RocksKV(tmp_path / "missing", read_only=True)
    assert not (tmp_path / "missing").exists()


def test_range_scan_is_half_open(writer):
    assert [k for k, _ in writer.scan_range(b"t\x00a", b"t\x00c")] == [b"t\x00a", b"t\x00b"]


def test_put_many_writes_every_key_at_once(writer):
    writer.put_many([(b"h\x00x", b"head"), (b"v\x00x\x00\x00\x00\x00\x01", b"v1"), (b"t\x00x", b"")])
    assert [writer.get(k) for k in (b"h\x00x", b"v\x00x\x00\x00\x00\x00\x01", b"t\x00x")] == [b"head", b"v1", b""]


def test_a_prefix_scan_reads_its_prefix_only_whatever_bytes_follow_or_end_it(writer):
    writer.put_many([(b"t\x01", b"next"), (b"t\x00\xff", b"high"), (b"t\x00\xff\xff", b"higher"),
                     (b"\xff\xff", b"last"), (b"\xff\xff\x00", b"after last"), (b"s\xff", b"before")])
    assert [k for k, _ in writer.scan(b"t\x00")] == [b"t\x00a", b"t\x00b", b"t\x00c", b"t\x00\xff", b"t\x00\xff\xff"]
    assert [k for k, _ in writer.scan(b"t\x00\xff")] == [b"t\x00\xff", b"t\x00\xff\xff"]
    assert [k for k, _ in writer.scan(b"\xff\xff")] == [b"\xff\xff", b"\xff\xff\x00"]
    assert [k for k, _ in writer.scan(b"s")] == [b"s\xff"]


def test_a_range_reader_reads_what_scans_read_in_any_order_of_ranges(writer):
    writer.put_many([(b"e\x00a\x001", b"x"), (b"e\x00a\x002", b"y"), (b"e\x00b\x001", b"z"), (b"h\x00a", b"h")])
    ranges = [(b"e\x00b\x00", b"e\x00b\x01"), (b"e\x00a\x00", b"e\x00a\x01"), (b"e\x00a\x002", b"e\x00a\x003"),
              (b"e\x00c\x00", b"e\x00c\x01"), (b"e\x00a\x00", b"e\x00a\x002"), (b"t\x00", b"t\x01"),
              (b"u\x00", b"u\x01"), (b"t\x00b", b"t\x00b")]
    reader = writer.ranges()
    assert [reader.items(start, end) for start, end in ranges] == \
        [list(writer.scan_range(start, end)) for start, end in ranges]
    assert reader.items(b"e\x00a\x00", b"e\x00a\x01") == [(b"e\x00a\x001", b"x"), (b"e\x00a\x002", b"y")]


def _log_bytes(path) -> int:
    return sum(log.stat().st_size for log in path.glob("*.log"))


def test_a_scans_store_writes_no_log_and_keeps_every_write_once_closed(tmp_path):
    path = tmp_path / "scan"
    kv = RocksKV.for_scan(path)
    kv.put_many([(b"k%04d" % i, b"v" * 100) for i in range(1000)])
    kv.put(b"last", b"1")
    assert _log_bytes(path) == 0  # nothing went to RocksDB's write-ahead log
    kv.close()
    reopened = RocksKV(path, read_only=True)
    assert len(list(reopened.scan(b"k"))) == 1000 and reopened.get(b"last") == b"1"
    reopened.close()


def test_a_store_opened_otherwise_logs_its_writes(tmp_path):
    kv = RocksKV(tmp_path / "logged")
    kv.put_many([(b"k%04d" % i, b"v" * 100) for i in range(1000)])
    assert _log_bytes(tmp_path / "logged") > 100_000
    kv.close()
