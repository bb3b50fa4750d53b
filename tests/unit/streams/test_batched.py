from datetime import timedelta

import pytest

from elava.settings import WasteSettings
from streams.process import PartitionProcessor
from streams.store.batched import BatchedWrites
from streams.store.kv import MemoryKV, RocksKV
from streams.store.versioned import VersionStore
from streams.waste_stage import waste_findings
from tests.unit.streams.fixtures import T0, BatchCountingKV, marker, page, sg, shard

SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}


def test_writes_wait_for_flush_and_then_go_as_one_batch():
    inner = BatchCountingKV()
    inner.put(b"h\x00gone", b"old")
    kv = BatchedWrites(inner)
    kv.put(b"h\x00a", b"1")
    kv.put_many([(b"v\x00a", b"2"), (b"m\x00a", b"3")])
    kv.delete(b"h\x00gone")
    assert inner._data == {b"h\x00gone": b"old"} and inner.batches == 0
    kv.flush()
    assert inner._data == {b"h\x00a": b"1", b"v\x00a": b"2", b"m\x00a": b"3"} and inner.batches == 1
    kv.flush()
    assert inner.batches == 1  # nothing pending: no empty batch


def test_reads_see_the_writes_not_yet_flushed():
    inner = MemoryKV()
    inner.put(b"h\x00a", b"old")
    inner.put(b"h\x00b", b"kept")
    kv = BatchedWrites(inner)
    kv.put(b"h\x00a", b"new")
    kv.delete(b"h\x00b")
    kv.put(b"h\x00c", b"added")
    assert [kv.get(b"h\x00a"), kv.get(b"h\x00b"), kv.get(b"h\x00c")] == [b"new", None, b"added"]
    assert kv.get_many([b"h\x00c", b"h\x00b", b"h\x00a", b"h\x00x"]) == [b"added", None, b"new", None]


def test_a_scan_of_a_keyspace_written_flushes_first_and_another_does_not():
    inner = BatchCountingKV()
    inner.put(b"e\x00a\x001", b"evidence")
    kv = BatchedWrites(inner)
    kv.put(b"v\x00a\x002", b"version")
    assert list(kv.scan(b"e\x00a\x00")) == [(b"e\x00a\x001", b"evidence")]
    assert list(kv.scan_range(b"e\x00", b"e\x01")) == [(b"e\x00a\x001", b"evidence")]
    assert inner.batches == 0  # nothing written there: the batch keeps waiting
    assert list(kv.scan(b"v\x00a\x00")) == [(b"v\x00a\x002", b"version")]
    assert inner.batches == 1
    kv.put(b"v\x00a\x003", b"next")
    assert list(kv.scan_range(b"v\x00a\x00", b"v\x00a\x01"))[-1] == (b"v\x00a\x003", b"next")
    assert inner.batches == 2


def test_a_scan_finds_a_pending_key_put_before_larger_ones_and_in_any_keyspace_it_spans():
    inner = BatchCountingKV()
    kv = BatchedWrites(inner)
    kv.put(b"v\x00d", b"4")  # out of order: kept unsorted until a scan asks
    kv.put(b"v\x00a", b"1")
    assert list(kv.scan_range(b"v\x00b", b"v\x00c")) == [] and inner.batches == 0
    assert list(kv.scan_range(b"v\x00a", b"v\x00b")) == [(b"v\x00a", b"1")] and inner.batches == 1
    kv.put(b"v\x00z", b"26")
    kv.put(b"v\x00m", b"13")
    assert list(kv.scan(b"v\x00n")) == [] and inner.batches == 1
    assert list(kv.scan(b"v\x00m")) == [(b"v\x00m", b"13")] and inner.batches == 2
    kv.put(b"v\x00q", b"17")
    assert list(kv.scan_range(b"e\x00", b"w"))[-1] == (b"v\x00z", b"26")  # spans e..w: holds v
    assert inner.batches == 3
    kv.put(b"m\x00a", b"member")
    assert list(kv.scan(b"")) and inner.batches == 4  # the whole store


def test_a_range_reader_flushes_a_range_written_and_reads_past_any_flush():
    inner = MemoryKV()
    inner.put(b"e\x00a\x001", b"old")
    kv = BatchedWrites(inner)
    reader = kv.ranges()
    assert reader.items(b"e\x00a\x00", b"e\x00a\x01") == [(b"e\x00a\x001", b"old")]
    kv.put(b"e\x00a\x002", b"pending")
    assert reader.items(b"e\x00a\x00", b"e\x00a\x01")[-1] == (b"e\x00a\x002", b"pending")
    kv.put(b"v\x00a", b"elsewhere")
    kv.flush()
    inner.put(b"e\x00b\x001", b"after")  # not through kv: only a reader made again sees it
    assert reader.items(b"e\x00b\x00", b"e\x00b\x01") == [(b"e\x00b\x001", b"after")]


def test_a_range_reader_over_rocksdb_reads_past_a_flush(tmp_path):
    rocks = RocksKV(tmp_path / "store")
    try:
        kv = BatchedWrites(rocks)
        reader = kv.ranges()
        assert reader.items(b"e\x00a\x00", b"e\x00a\x01") == []  # its RocksDB iterator is made here
        kv.put(b"v\x00a", b"1")
        kv.flush()
        rocks.put(b"e\x00a\x001", b"kept later")
        assert reader.items(b"e\x00a\x00", b"e\x00a\x01") == [(b"e\x00a\x001", b"kept later")]
        del reader  # its iterator, before the store closes
    finally:
        rocks.close()


def _inputs():
    group = [r for r in (sg(f"sg-{n}") for n in range(80)) if shard(r) == shard(sg("sg-0"))][:12]
    first, twice = group[0], group[1]
    return [
        page(group, T0, scan="s1"),
        # a uid twice on one page: its second sighting is decided against the head the first one made
        page([sg(first.id, {"team": "a"}), sg(first.id, {"team": "b"}), sg(twice.id, ingress=[SSH_WORLD])],
             T0 + timedelta(hours=1), scan="s2"),
        marker(shard(first), group[:8], T0 + timedelta(hours=2), scan="s3"),  # four deletions
        page(group[8:10], T0 + timedelta(hours=3), scan="s4"),  # two of them back
        page(group[:3], T0 + timedelta(hours=1), scan="s2b"),  # an older page replayed
    ]


@pytest.mark.parametrize("flush_every_input", [True, False])
def test_the_core_makes_the_same_outputs_and_store_with_its_writes_batched(flush_every_input):
    direct, batched_inner = MemoryKV(), MemoryKV()
    batched = BatchedWrites(batched_inner)
    plain = PartitionProcessor(VersionStore(direct))
    buffered = PartitionProcessor(VersionStore(batched))
    made = []
    for event in _inputs():
        expected, got = plain.process(event), buffered.process(event)
        assert [c.to_bytes() for c in got.changes] == [c.to_bytes() for c in expected.changes]
        assert [d.to_bytes() for d in got.drift] == [d.to_bytes() for d in expected.drift]
        waste = WasteSettings()
        assert ([w.to_bytes() for w in waste_findings(VersionStore(batched), waste, event)]
                == [w.to_bytes() for w in waste_findings(VersionStore(direct), waste, event)])
        made.append(len(got.changes))
        if flush_every_input:
            batched.flush()
    batched.flush()
    assert batched_inner._data == direct._data
    assert made == [12, 3, 4, 2, 2]  # every input changes something: each path is taken
