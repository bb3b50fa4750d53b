"""The streaming backend of the store: a Faust RocksDB table, one partition at a time.

Reads and prefix scans go straight to the partition's rocksdict handle: Faust's own
``get`` would probe every partition and grow its in-memory key index for every key.

Writes go to the partition's RocksDB at once and to the table's changelog topic (what
restores the store after a crash or on another worker) as one aiokafka batch per input
message (streams/batch_send.py), not as one Faust ``table[key] = value`` per key. Faust's path costs a send
with its futures, callbacks and a persisted-offset write per record, and a new version
is about four records: it dominated the first scan of an account (measured, see
docs/benchmarks.md). The guarantees are Faust's: the batch is in the producer before
the agent acknowledges the input, and Faust flushes the producer before it commits.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from streams.batch_send import BatchedSends
from streams.faust_adapter import mark_persisted, partition_db
from streams.store.kv import prefix_scan, range_scan

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
        if delivery.cancelled() or delivery.exception() is not None:
            log.error("changelog batch not delivered: %r", None if delivery.cancelled() else delivery.exception())
            return
        mark_persisted(self.table, self.topic, partition, delivery.result().offset + count - 1)


class FaustPartitionKV:
    def __init__(self, table: Any, partition: int, changelog: ChangelogBatcher) -> None:
        self.partition = partition
        self.changelog = changelog
        self._db = partition_db(table, partition)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._db.put(key, value)
        self.changelog.add(self.partition, key, value)

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        for key, value in items:
            self.put(key, value)

    def delete(self, key: bytes) -> None:
        self._db.delete(key)
        self.changelog.add(self.partition, key, None)  # a tombstone: compaction drops the key

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return prefix_scan(self._db, prefix)

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return range_scan(self._db, start, end)


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

    def put(self, key: bytes, value: bytes) -> None:
        raise PermissionError("the worker's query API is read-only")

    delete = put

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        raise PermissionError("the worker's query API is read-only")

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return heapq.merge(*(prefix_scan(db, prefix) for db in self._dbs))

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return heapq.merge(*(range_scan(db, start, end) for db in self._dbs))
