"""The worker's Faust/aiokafka tuning stays in effect (no broker needed; the fetch wait,
set through private names, is guarded in test_faust_adapter.py)."""

from __future__ import annotations

from elava.settings import load_settings
from streams.app import PRODUCER_BATCH_BYTES, create_app


def test_producer_batches_are_large(tmp_path):
    app = create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path)))
    assert app.conf.producer_max_batch_size == PRODUCER_BATCH_BYTES


def test_each_partition_store_gets_the_configured_memory_bounds(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path),
                             worker__rocksdb_write_buffer_mib=8, worker__rocksdb_block_cache_mib=32)
    app = create_app(settings)
    options = app.tables["mvcc"].data.rocksdb_options
    assert options.write_buffer_size == 8 * 1024 * 1024
    assert options.block_cache_size == 32 * 1024 * 1024
    assert options.max_write_buffer_number == settings.worker.rocksdb_write_buffers
