"""How the worker opens a table partition: one memory budget, and no write-ahead log (the changelog is it)."""

import rocksdict

from streams.drivers.worker.worker_rocksdb import SharedMemoryRocksDB


def _seen_by_a_reader_opening_now(path) -> bytes | None:
    # A read-only open replays the write-ahead log, if any, but cannot see memtables that were never logged.
    reader = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True),
                             access_type=rocksdict.AccessType.read_only())
    try:
        return reader.get(b"k")
    finally:
        reader.close()


def test_a_partition_writes_without_a_write_ahead_log_and_flushes_on_close(tmp_path):
    options = SharedMemoryRocksDB(memory_mib=32, write_buffer_mib=4, write_buffers=2)
    db = options.open(tmp_path / "p0")
    db.put(b"k", b"v")
    assert _seen_by_a_reader_opening_now(tmp_path / "p0") is None  # not logged: lost by a crash, replayed from the changelog
    db.close()
    assert _seen_by_a_reader_opening_now(tmp_path / "p0") == b"v"  # a clean close keeps it
