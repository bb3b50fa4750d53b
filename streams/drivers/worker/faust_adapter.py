"""The one door to Faust's and aiokafka's private names: nothing else in Elava uses them.

faust-streaming 0.15 has no public way to do what these do, and each was measured to
matter (docs/benchmarks.md). A patch release may rename any of them, so
tests/unit/streams/drivers/worker/test_faust_adapter.py guards each one against the installed versions
(a failing guard names what moved and what it was for), and pyproject.toml pins
faust-streaming and aiokafka to the versions those guards passed on.

| private name | what for |
|---|---|
| ``AIOKafkaConsumer._fetch_max_wait_ms`` (aiokafka), through Faust's ``Consumer._new_consumer_thread`` and ``AIOKafkaConsumerThread._create_worker_consumer`` | the worker consumer's fetch wait: Faust hard-codes 1500 ms |
| ``Producer._producer`` (Faust's aiokafka driver) | the aiokafka producer Faust started: output and changelog records go to it in whole batches |
| ``rocksdb.Store._db_for_partition`` | a table partition's RocksDB handle: reads and prefix scans within the partition, without Faust's per-key index |
| ``rocksdb.Store.set_persisted_offset`` | where changelog recovery starts, for records the worker sent itself |
| ``rocksdb.Store.rocksdb_options`` (what ``_open_for_partition`` opens each partition with) | one block cache and write buffer manager for all of a worker's partitions (streams/drivers/worker/worker_rocksdb.py): Faust builds new ones per partition |
| ``Consumer._buffered_partitions`` | the input partitions Faust stopped fetching because their buffer was full: one left there after a restart is never fetched again (streams/drivers/worker/stall_watch.py) |
| ``Consumer._wait_next_records``, ``Consumer._get_active_partitions`` | while input partitions are held back for a full buffer, ask for records with a short wait, so that they are asked for again soon after they come back (Faust waits up to 1 s for the others, or sleeps 1 s when all are held back) |
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

# How long the worker consumer's fetch may wait at the broker for data. Faust hard-codes
# 1500 ms, and aiokafka has one fetch in flight per broker that leaves out partitions whose
# records are still queued here: a fetch for the drained partitions then sat at the broker
# while the busy ones waited behind it (half of a steady-state round was idle, measured).
FETCH_MAX_WAIT_MS = 100
# How long one ask for records may wait while some input partitions are held back for a full
# buffer. 0.05 s was measured too: the worker's CPU per observation rose by a third.
HELD_BACK_POLL_S = 0.2
# With every input partition held back, the longest wait for one to come back (Faust's sleep).
ALL_HELD_BACK_WAIT_S = 1.0


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # no Faust setting; aiokafka reads it when it starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    _came_back: asyncio.Event | None = None  # set when Faust fetches a held-back partition again

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def on_buffer_drop(self, tp: TP) -> None:
        super().on_buffer_drop(tp)
        if self._came_back is not None:
            self._came_back.set()

    async def _wait_next_records(self, timeout: float) -> Any:
        # Faust asks for the records of the partitions it fetches, waiting up to 1 s for some
        # (with none to fetch, it sleeps 1 s). While some are held back for a full buffer, the
        # others are often drained (or the CloudTrail input, idle): that wait then ran its full
        # second while the held-back partitions, fetched already, came back within it, and the
        # worker sat idle 0.4-0.7 s a few times per steady-state round (measured).
        if self._held_back():
            timeout = min(timeout, HELD_BACK_POLL_S)
            if not self._get_active_partitions():  # all held back: wait for the first to come back
                self._came_back = self._came_back or asyncio.Event()
                self._came_back.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._came_back.wait(), timeout=ALL_HELD_BACK_WAIT_S)
        return await super()._wait_next_records(timeout)

    def _held_back(self) -> set[TP]:
        """Assigned partitions Faust holds back for a full buffer (its set can keep partitions
        that were reassigned or resumed since: those are not waiting)."""
        if not self._buffered_partitions:
            return set()
        return (self._buffered_partitions & set(self.assignment())) - self._get_active_partitions()


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with the worker consumer's fetch wait shortened."""

    Consumer = _Consumer


def aiokafka_producer(app: Any) -> Any:
    """The aiokafka producer Faust started (exists once the app runs)."""
    return app.producer._producer


def partition_db(table: Any, partition: int) -> Any:
    """The rocksdict handle of one partition of a Faust RocksDB table (opened if need be)."""
    return table.data._db_for_partition(partition)


def partition_dbs(table: Any) -> dict[int, Any]:
    """Partition -> rocksdict handle, for each partition of the table this worker has opened (a copy)."""
    return dict(table.data._dbs)


def mark_persisted(table: Any, topic: str, partition: int, offset: int) -> None:
    """Changelog recovery of ``partition`` starts after ``offset`` (records sent around Faust)."""
    table.data.set_persisted_offset(TP(topic, partition), offset)


def use_rocksdb_options(table: Any, options: Any) -> None:
    """Open the table's partitions with ``options`` (a ``faust.stores.rocksdb.RocksDBOptions``);
    before any partition is opened."""
    table.data.rocksdb_options = options


def held_back(app: Any, partitions: Any) -> set:
    """Those of ``partitions`` whose fetching Faust suspended for a full buffer (``on_buffer_full``)."""
    return {tp for tp in partitions if tp in app.consumer._buffered_partitions}
