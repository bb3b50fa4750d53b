"""How the worker opens each table partition's RocksDB: one memory budget for all of them.

Faust opens one RocksDB per partition, each with its own block cache and memtables, and
RocksDB keeps every open file's index and filter blocks outside the cache: a worker's
memory grew with its partitions and with the data (1,366 MiB at a million resources,
docs/benchmarks.md). Here every partition shares one LRU block cache, which also holds
the index and filter blocks and is charged for the memtables (a write buffer manager
costed to the cache), so RocksDB stays within ``worker.rocksdb_memory_mib`` whatever
the estate's size and however many partitions the worker holds.

Blocks are laid out as in the embedded store (streams/store/kv.py, measured there):
lz4, zstd on the last level, 16 KB blocks, a full bloom filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rocksdict
from faust.stores.rocksdb import RocksDBOptions

from streams.store.kv import BLOCK_SIZE, BOTTOMMOST_COMPRESSION, COMPRESSION, MIB, open_rdict

MEMTABLE_SHARE = 2  # the memtables of all partitions get at most 1/2 of the budget


class SharedMemoryRocksDB(RocksDBOptions):
    """Faust's RocksDB options, with one block cache and write buffer manager for every partition."""

    def __init__(self, memory_mib: int, write_buffer_mib: int, write_buffers: int) -> None:
        super().__init__(write_buffer_size=write_buffer_mib * MIB, max_write_buffer_number=write_buffers,
                         block_cache_size=memory_mib * MIB, use_rocksdict=True)
        # Both must outlive every database opened with them: they live as long as the table.
        self.cache = rocksdict.Cache(memory_mib * MIB)
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            memory_mib * MIB // MEMTABLE_SHARE, False, self.cache)

    def open(self, path: Path, *, read_only: bool = False) -> Any:
        db = open_rdict(path, self.as_options(), rocksdict.AccessType.read_write())  # its options on reopen too
        db.set_read_options(rocksdict.ReadOptions())
        return db

    def as_options(self) -> rocksdict.Options:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_write_buffer_manager(self.write_buffers)
        options.set_compression_type(getattr(rocksdict.DBCompressionType, COMPRESSION)())
        if BOTTOMMOST_COMPRESSION:
            options.set_bottommost_compression_type(getattr(rocksdict.DBCompressionType, BOTTOMMOST_COMPRESSION)())
        table = rocksdict.BlockBasedOptions()
        table.set_block_size(BLOCK_SIZE)
        table.set_bloom_filter(10, False)  # a head lookup for a new uid is a miss: skip files cheaply
        table.set_block_cache(self.cache)
        # Index and filter blocks count against the budget too; the newest files' stay put.
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        options.set_block_based_table_factory(table)
        return options
