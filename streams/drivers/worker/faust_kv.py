"""The streaming backend of the store: a Faust RocksDB table, one partition at a time.

Reads and prefix scans go straight to the partition's rocksdict handle: Faust's own
``get`` would probe every partition and grow its in-memory key index for every key.

Writes go to the partition's RocksDB as one write batch per input message, flushed before
the message's records leave (streams/store/batched.py), and to the table's changelog topic (what
restores the store after a crash or on another worker) as one aiokafka batch per input
message (streams/drivers/worker/batch_send.py), not as one Faust ``table[key] = value`` per key. Faust's path costs a send
with its futures, callbacks and a persisted-offset write per record, and a new version
was four records: it dominated the first scan of an account (measured, see
docs/benchmarks.md). The guarantees are Faust's: the batch is in the producer before
the agent acknowledges the input, and Faust flushes the producer before it commits.

The changelog carries versions, not the heads and time index derived from them
(streams/store/changelog.py): ``MvccTable`` rebuilds those as it restores a partition.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import faust

from streams.drivers.worker.batch_send import BatchedSends, stop_undelivered
from streams.drivers.worker.faust_adapter import mark_persisted, partition_db
from streams.store.batched import BatchedWrites
from streams.store.changelog import Changelogged, restore
from streams.store.kv import RangeReader, RdictKV, ScanningReader, prefix_scan, range_scan

log = logging.getLogger("elava.worker")


class ChangelogBatcher:
    """The table's changelog records written while one input message is handled."""

    def __init__(self, table: Any, sends: BatchedSends) -> None:
        self.table, self.sends = table, sends
        self.topic = table.changelog_topic.get_topic_name()
        sends.on_delivered(self.topic, self._persisted)

    def add(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.sends.add(self.topic, partition, key, value)

    def _persisted(self, partition: int, count: int, delivery: Any) -> None:
        # Where recovery starts reading the changelog into the local store again.
        if delivery.cancelled():  # the producer stopped (a shutdown): recovery starts where it last was
            log.error("changelog batch not delivered: cancelled")
            return
        if delivery.exception() is not None:
            stop_undelivered(self.topic, delivery.exception())
            return
        mark_persisted(self.table, self.topic, partition, delivery.result().offset + count - 1)


class FaustPartitionKV(Changelogged):
    """One partition of the table: its RocksDB, and its records for the changelog.

    Writes reach RocksDB as one batch at ``flush`` (streams/store/batched.py): call it when
    the input is handled, before its changelog records are handed to the producer.
    """

    def __init__(self, table: Any, partition: int, changelog: ChangelogBatcher) -> None:
        self.partition = partition
        self.writes = BatchedWrites(RdictKV(partition_db(table, partition)))
        super().__init__(self.writes, lambda key, value: changelog.add(partition, key, value))

    def flush(self) -> None:
        self.writes.flush()


class MvccTable(faust.Table):
    """The worker's table: restoring it from its changelog rebuilds what the changelog leaves
    out (heads, the time index), record by record in the changelog's order."""

    restored = 0  # changelog records applied since start: recovery's progress (streams/drivers/worker/stall_watch.py)

    def apply_changelog_batch(self, batch: Any) -> None:
        stores: dict[int, RdictKV] = {}
        last: dict[Any, int] = {}
        for event in batch:
            message = event.message
            kv = stores.get(message.partition)
            if kv is None:
                kv = stores[message.partition] = RdictKV(partition_db(self, message.partition))
            restore(kv, message.key, message.value)
            self.restored += 1
            last[message.tp] = max(message.offset, last.get(message.tp, -1))
        for tp, offset in last.items():
            mark_persisted(self, tp.topic, tp.partition, offset)


class WorkerReadKV:
    """Read-only view over some partitions of the table (for the HTTP API).

    A uid lives in exactly one partition, so merging the partitions' ordered scans
    gives the same order as one store would.
    """

    def __init__(self, table: Any, partitions: Iterable[int]) -> None:
        self._dbs = [partition_db(table, partition) for partition in sorted(partitions)]

    def get(self, key: bytes) -> bytes | None:
        for db in self._dbs:
            value = db.get(key)
            if value is not None:
                return value
        return None

    def get_many(self, keys: list[bytes]) -> list[bytes | None]:
        return [self.get(key) for key in keys]

    def put(self, key: bytes, value: bytes) -> None:
        raise PermissionError("the worker's query API is read-only")

    delete = put

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        raise PermissionError("the worker's query API is read-only")

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return heapq.merge(*(prefix_scan(db, prefix) for db in self._dbs))

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return heapq.merge(*(range_scan(db, start, end) for db in self._dbs))

    def ranges(self) -> RangeReader:
        return ScanningReader(self)
