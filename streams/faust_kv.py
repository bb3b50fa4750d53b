"""The streaming backend of the store: a Faust RocksDB table, one partition at a time.

Writes go through the table, so each one is also a changelog record (what restores
the store after a crash or on another worker). Reads and prefix scans go straight to
the partition's rocksdict handle: Faust's own ``get`` would probe every partition and
grow its in-memory key index for every key touched.
"""

from __future__ import annotations

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

    def delete(self, key: bytes) -> None:
        del self.table[key]

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return prefix_scan(self._db, prefix)

    def scan_range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return range_scan(self._db, start, end)
