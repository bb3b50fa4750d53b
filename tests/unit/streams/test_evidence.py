"""The evidence log's reads: one reader for an input's reads, and what is kept meanwhile is read."""

import pytest

from streams.store.batched import BatchedWrites
from streams.store.evidence import EvidenceLog
from streams.store.kv import MemoryKV, RocksKV


@pytest.fixture(params=["rocksdb", "rocksdb-batched", "memory"])
def kv(request, tmp_path):
    if request.param == "memory":
        yield MemoryKV()
        return
    rocks = RocksKV(tmp_path / "store")
    yield BatchedWrites(rocks) if request.param == "rocksdb-batched" else rocks
    rocks.close()


def test_reads_together_read_what_reads_alone_read(kv):
    log = EvidenceLog(kv)
    for uid, at in [("a", 10), ("a", 20), ("a", 30), ("b", 15), ("c", 5)]:
        log.keep(uid, at, f"{uid}{at}", f"{uid}@{at}".encode())
    asked = [("b", 0, 100), ("a", 15, 30), ("a", 0, 10), ("d", 0, 100), ("c", 6, 100), ("a", 0, 100)]
    alone = [log.between(*ask) for ask in asked]
    with log.read_together():
        together = [log.between(*ask) for ask in asked]
    assert together == alone == [[b"b@15"], [b"a@20", b"a@30"], [b"a@10"], [], [], [b"a@10", b"a@20", b"a@30"]]


def test_evidence_kept_while_reading_together_is_read(kv):
    log = EvidenceLog(kv)
    with log.read_together():
        assert log.between("a", 0, 100) == []  # the reader is made (and, over RocksDB, its iterator)
        log.keep("a", 50, "late", b"late")
        assert log.between("a", 0, 100) == [b"late"]
        log.keep("b", 50, "other", b"other")
        assert log.between("b", 0, 100) == [b"other"]


def test_a_store_without_evidence_is_known_to_hold_none_until_some_is_kept(kv):
    log = EvidenceLog(kv)
    assert not log.none_kept()  # outside an input's reads it is never assumed
    kv.put(b"f\x00after the evidence keyspace", b"")  # keys around it are not evidence
    kv.put(b"d\x00before it", b"")
    with log.read_together():
        assert log.none_kept()
        log.keep("a", 50, "late", b"late")
        assert not log.none_kept()
        assert log.between("a", 0, 100) == [b"late"]
    with log.read_together():
        assert not log.none_kept()

