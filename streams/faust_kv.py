"""The streaming backend of the store: a Faust RocksDB table, one partition at a time.

Writes go through the table, so each one is also a changelog record (what restores
the store after a crash or on another worker). Reads and prefix scans go straight to
the partition's rocksdict handle: Faust's own ``get`` would probe every partition and
grow its in-memory key index for every key touched.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from streams.store.kv import prefix_scan, range_scan


class FaustPartitionKV:
    def __init__(self, table: Any, partition: int) -> None:
        self.table = table
        self._db = table.data._db_for_partition(partition)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.table[key] = value

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        for key, value in items:
            self.table[key] = value  # each one a changelog record

    def delete(self, key: bytes) -> None:
        del self.table[key]

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return prefix_scan(self._db, prefix)

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return range_scan(self._db, start, end)


class WorkerReadKV:
    """Read-only view over every partition this worker holds (for the HTTP API).

    A uid lives in exactly one partition, so merging the partitions' ordered scans
    gives the same order as one store would.
    """

    def __init__(self, table: Any) -> None:
        self._dbs = list(table.data._dbs.values())

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
