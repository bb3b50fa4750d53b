"""Guards of every Faust/aiokafka private name Elava uses (streams/drivers/worker/faust_adapter.py).

Each fails with a message naming the name, what it is for and the installed version,
so an upgrade that moved one says so here instead of slowing or breaking the worker.
pyproject.toml pins faust-streaming and aiokafka to the versions these passed on.
"""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version

import pytest
from aiokafka import AIOKafkaConsumer
from faust.stores import rocksdb as faust_rocksdb
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from elava.settings import load_settings
from streams.drivers.worker import faust_adapter
from streams.drivers.worker.app import create_app

VERSIONS = f"faust-streaming {version('faust-streaming')}, aiokafka {version('aiokafka')}"


def guard(holds: bool, name: str, purpose: str) -> None:
    if not holds:
        pytest.fail(f"{VERSIONS}: {name} is gone or changed; streams/drivers/worker/faust_adapter.py uses it {purpose}. "
                    "Adapt the adapter before widening the pins in pyproject.toml.", pytrace=False)


@pytest.fixture
def app(tmp_path):
    return create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path)))


async def test_faust_builds_its_worker_consumer_through_the_hooks_the_adapter_overrides(app):
    guard(callable(getattr(faust_aiokafka.Consumer, "_new_consumer_thread", None)),
          "faust Consumer._new_consumer_thread", "to put in its own consumer thread")
    guard(callable(getattr(faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer", None)),
          "faust AIOKafkaConsumerThread._create_worker_consumer", "to shorten the worker consumer's fetch wait")
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        guard(getattr(consumer, "_fetch_max_wait_ms", None) == faust_adapter.FETCH_MAX_WAIT_MS < 1500,
              "aiokafka AIOKafkaConsumer._fetch_max_wait_ms", "to shorten the worker consumer's fetch wait")
    finally:
        await consumer.stop()


async def test_aiokafka_hands_the_fetch_wait_to_its_fetcher_when_it_starts():
    consumer = AIOKafkaConsumer(fetch_max_wait_ms=123)
    try:
        guard(consumer._fetch_max_wait_ms == 123, "aiokafka AIOKafkaConsumer._fetch_max_wait_ms",
              "to shorten the worker consumer's fetch wait")
    finally:
        await consumer.stop()
    guard("fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start),
          "aiokafka AIOKafkaConsumer.start reading _fetch_max_wait_ms", "to shorten the worker consumer's fetch wait")


def test_faust_keeps_its_aiokafka_producer_where_the_adapter_reads_it(app):
    guard("self._producer = self._new_producer()" in inspect.getsource(faust_aiokafka.Producer.on_start),
          "faust Producer._producer", "to send output and changelog records in whole batches")
    guard(faust_adapter.aiokafka_producer(app) is None,  # set when the app starts
          "faust Producer._producer", "to send output and changelog records in whole batches")


def test_a_table_partition_opens_its_rocksdb_handle_where_the_adapter_reads_it(app):
    table = app.tables["mvcc"]
    guard(isinstance(table.data, faust_rocksdb.Store), "faust rocksdb.Store", "as the worker's table store")
    db = faust_adapter.partition_db(table, 3)
    db.put(b"k", b"v")
    guard(db.get(b"k") == b"v", "faust rocksdb.Store._db_for_partition", "to read a partition's store directly")
    guard(faust_adapter.partition_dbs(table) == {3: db}, "faust rocksdb.Store._dbs keyed by partition",
          "to report the store's size per partition (telemetry)")


def test_a_table_opens_its_partitions_with_the_options_the_adapter_gives_it(app):
    table = app.tables["mvcc"]
    opened = []

    class Recording(faust_rocksdb.RocksDBOptions):
        def open(self, path, *, read_only=False):
            opened.append(path.name)
            return super().open(path, read_only=read_only)

    faust_adapter.use_rocksdb_options(table, Recording())
    faust_adapter.partition_db(table, 4)
    guard(opened == ["mvcc-4.db"], "faust rocksdb.Store.rocksdb_options",
          "to open every partition with one shared block cache and write buffer manager")


def test_the_persisted_changelog_offset_is_where_recovery_reads_it(app):
    table = app.tables["mvcc"]
    topic = table.changelog_topic.get_topic_name()
    faust_adapter.partition_db(table, 2)
    faust_adapter.mark_persisted(table, topic, 2, 41)
    guard(table.data.persisted_offset(TP(topic, 2)) == 41, "faust rocksdb.Store.set_persisted_offset",
          "to say where changelog recovery starts after records sent around Faust")


def test_the_pins_are_the_versions_these_guards_passed_on():
    from pathlib import Path

    pyproject = (Path(__file__).parents[5] / "pyproject.toml").read_text()
    for name in ("faust-streaming", "aiokafka"):
        assert f'"{name}=={version(name)}"' in pyproject, f"pin {name} to the guarded version {version(name)}"


def test_faust_keeps_the_input_partitions_it_stopped_fetching_for_a_full_buffer(app):
    tp = TP("elava.observations", 3)
    guard(isinstance(getattr(app.consumer, "_buffered_partitions", None), set), "faust Consumer._buffered_partitions",
          "to find a waiting input partition Faust no longer fetches")
    app.consumer.on_buffer_full(tp)
    guard(faust_adapter.held_back(app, [tp]) == {tp}, "faust Consumer.on_buffer_full -> _buffered_partitions",
          "to find a waiting input partition Faust no longer fetches")
    app.consumer.on_buffer_drop(tp)
    assert faust_adapter.held_back(app, [tp]) == set()


async def test_while_partitions_are_held_back_records_are_asked_for_with_a_short_wait(app, monkeypatch):
    purpose = "to ask again soon for input partitions held back for a full buffer"
    own = inspect.signature(faust_aiokafka.Consumer._wait_next_records)
    guard(list(own.parameters) == ["self", "timeout"], "faust Consumer._wait_next_records(timeout)", purpose)
    guard("getmany(timeout=1.0)" in inspect.getsource(faust_aiokafka.Consumer._drain_messages),
          "faust Consumer._drain_messages asking getmany(timeout=1.0)", purpose)
    guard(callable(getattr(faust_aiokafka.Consumer, "_get_active_partitions", None)),
          "faust Consumer._get_active_partitions", purpose)
    asked = []

    async def faust_wait(self, timeout):
        asked.append(timeout)
        return {}, set()

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", faust_wait)
    consumer, (tp0, tp1) = app.consumer, (TP("elava.observations", 0), TP("elava.observations", 1))
    monkeypatch.setattr(consumer, "assignment", lambda: {tp0, tp1})
    await consumer._wait_next_records(1.0)
    consumer.on_buffer_full(tp0)
    await consumer._wait_next_records(1.0)
    consumer.on_buffer_drop(tp0)
    consumer._buffered_partitions.add(TP("elava.observations", 9))  # left from before a rebalance: not waiting
    await consumer._wait_next_records(1.0)
    assert asked == [1.0, faust_adapter.HELD_BACK_POLL_S, 1.0] and faust_adapter.HELD_BACK_POLL_S < 1.0


async def test_with_every_partition_held_back_records_are_asked_for_once_one_comes_back(app, monkeypatch):
    asked = []

    async def faust_wait(self, timeout):  # Faust itself would sleep 1 s with nothing to fetch
        asked.append((timeout, set(self._get_active_partitions())))
        return {}, set()

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", faust_wait)
    consumer, (tp0, tp1) = app.consumer, (TP("elava.observations", 0), TP("elava.observations", 1))
    monkeypatch.setattr(consumer, "assignment", lambda: {tp0, tp1})
    consumer.on_buffer_full(tp0)
    consumer.on_buffer_full(tp1)
    waiting = asyncio.create_task(consumer._wait_next_records(1.0))
    await asyncio.sleep(0.05)
    assert asked == [] and not waiting.done()  # nothing to fetch yet: not asked
    consumer.on_buffer_drop(tp1)
    await waiting
    assert asked == [(faust_adapter.HELD_BACK_POLL_S, {tp1})]
