"""The worker's Faust/aiokafka tuning stays in effect (no broker needed)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from elava.settings import load_settings
from streams.app import FETCH_MAX_WAIT_MS, PRODUCER_BATCH_BYTES, create_app


async def test_the_worker_consumer_waits_briefly_at_the_broker(tmp_path):
    app = create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path)))
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS < 1500
    finally:
        await consumer.stop()


async def test_aiokafka_still_reads_the_fetch_wait_from_where_the_worker_sets_it():
    consumer = AIOKafkaConsumer(fetch_max_wait_ms=123)
    try:
        assert consumer._fetch_max_wait_ms == 123
    finally:
        await consumer.stop()


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
