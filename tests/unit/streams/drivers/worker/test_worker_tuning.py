"""The worker's Faust/aiokafka tuning stays in effect (no broker needed; the fetch wait,
set through private names, is guarded in test_faust_adapter.py)."""

from __future__ import annotations

from elava.settings import load_settings
from streams.drivers.worker.app import (
    INPUT_BUFFER_MESSAGES,
    PRODUCER_BATCH_BYTES,
    PRODUCER_LINGER_S,
    create_app,
)
from streams.drivers.worker.faust_adapter import partition_db


def test_producer_batches_are_large(tmp_path):
    app = create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path)))
    assert app.conf.producer_max_batch_size == PRODUCER_BATCH_BYTES


def test_the_producer_lingers_to_fill_its_batches(tmp_path):
    app = create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path)))
    assert app.producer.linger_ms == round(PRODUCER_LINGER_S * 1000) > 0  # what aiokafka is given


def test_every_partition_store_shares_one_memory_budget(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path),
                             worker__rocksdb_write_buffer_mib=8, worker__rocksdb_memory_mib=64)
    table = create_app(settings).tables["mvcc"]
    options = table.data.rocksdb_options
    assert options.write_buffer_size == 8 * 1024 * 1024
    assert options.max_write_buffer_number == settings.worker.rocksdb_write_buffers
    assert options.write_buffers.get_buffer_size() == 32 * 1024 * 1024  # the memtables' half of the budget
    charged = []
    for partition in (0, 1):
        partition_db(table, partition).put(b"k", b"v" * 1024 * 1024)  # its memtable: charged to the one cache
        charged.append(options.cache.get_usage())
    assert 1024 * 1024 < charged[0] < charged[1] - 1024 * 1024


def test_the_agent_reads_few_pages_ahead(tmp_path):
    app = create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path)))
    stream_channel = app.agents["observe"].channel.clone(is_iterator=True)  # as the agent iterates it
    assert stream_channel.queue.maxsize == INPUT_BUFFER_MESSAGES < 4096  # Faust's default: a whole scan
