"""The worker's table partitions: what a change sends to the changelog, and what restoring
the changelog into a partition rebuilds (no broker needed)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
from faust.types import TP

from elava.settings import load_settings
from streams.drivers.worker.app import create_app
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.faust_adapter import partition_db
from streams.drivers.worker.faust_kv import ChangelogBatcher, FaustPartitionKV, MvccTable
from streams.process import PartitionProcessor
from streams.store.keyspaces import keyspace_of
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, marker, page, sg, shard


@pytest.fixture
def table(tmp_path):
    return create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))).tables["mvcc"]


def partition_store(table, partition: int) -> tuple[FaustPartitionKV, BatchedSends]:
    sends = BatchedSends(lambda: None)  # nothing is sent here: records wait in the batch
    return FaustPartitionKV(table, partition, ChangelogBatcher(table, sends)), sends


def sent(sends: BatchedSends, table) -> list[tuple[bytes, bytes | None]]:
    topic = table.changelog_topic.get_topic_name()
    return [(key, value) for (to, _), records in sends._pending.items() if to == topic for key, value, _ in records]


def same_shard(count: int) -> list:
    first = sg("sg-0")
    return [r for r in (sg(f"sg-{n}") for n in range(count * 20)) if shard(r) == shard(first)][:count]


def local(table, partition: int) -> dict[bytes, bytes]:
    return {k: v for k, v in partition_db(table, partition).items() if not k.startswith(b"__faust")}


def test_a_new_resource_sends_two_changelog_records_from_the_worker(table):
    kv, sends = partition_store(table, 3)
    groups = same_shard(25)
    PartitionProcessor(VersionStore(kv)).process(page(groups, T0))
    assert local(table, 3) == {}  # the input's writes wait for its end, as one batch
    kv.flush()
    records = sent(sends, table)
    assert Counter(keyspace_of(key).name for key, _ in records) == {"versions": 25, "shard membership": 25}
    assert {keyspace_of(key).name for key in local(table, 3)} == {
        "versions", "heads", "time index", "time index by shard", "shard membership", "used by (relationships)"}


def events(table, partition: int, records: list[tuple[bytes, bytes | None]], first_offset: int = 0) -> list:
    tp = TP(table.changelog_topic.get_topic_name(), partition)
    return [SimpleNamespace(message=SimpleNamespace(tp=tp, partition=partition, offset=first_offset + n,
                                                    key=key, value=value))
            for n, (key, value) in enumerate(records)]


def test_restoring_a_partition_from_its_changelog_rebuilds_heads_and_the_time_index(table):
    assert isinstance(table, MvccTable)
    kv, sends = partition_store(table, 1)
    groups = same_shard(5)
    processor = PartitionProcessor(VersionStore(kv))
    for event in (page(groups, T0, scan="s1"), page([sg(groups[0].id, {"owner": "bob"})], T0 + timedelta(hours=1), scan="s2"),
                  marker(shard(groups[0]), groups[:4], T0 + timedelta(hours=2), scan="s3")):
        processor.process(event)
        kv.flush()  # as the worker does when it has handled an input
    records = sent(sends, table)

    batch = events(table, 6, records, first_offset=100)
    table.apply_changelog_batch(batch[:7])  # as Faust's recovery does: in buffers
    table.apply_changelog_batch(batch[7:])

    assert local(table, 6) == local(table, 1)
    assert table.data.persisted_offset(TP(table.changelog_topic.get_topic_name(), 6)) == 100 + len(records) - 1
