"""The worker's sinks publish each event once, as bytes made once."""

from __future__ import annotations

from datetime import timedelta

from elava.settings import KafkaSettings
from elava.topics import Topics
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.sinks import WorkerSinks
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.drivers.worker.test_batch_send import Partitions
from tests.unit.streams.fixtures import T0, page, sg
from tests.unit.streams.test_process import SSH_WORLD


def published(sends: BatchedSends, topic: str) -> list[bytes]:
    return [value for (to, _), records in sends._pending.items() if to == topic for _, value, _ in records]


async def test_a_drift_goes_out_as_the_very_bytes_it_was_kept_as():
    topics = Topics(KafkaSettings())
    sends = BatchedSends(lambda: Partitions({}, default=6))
    processor = PartitionProcessor(VersionStore(MemoryKV()))
    processor.process(page([sg("sg-1")], T0, scan="s1"))
    modified = page([sg("sg-1", ingress=[SSH_WORLD])], T0 + timedelta(hours=1), scan="s2")
    produced = processor.process(modified)

    await WorkerSinks.on(topics, sends, "test").publish(modified, produced)

    [drift] = produced.drift
    [value] = published(sends, topics.drift)
    assert value is produced.encoded[drift.event_id]  # not serialised a second time
    assert value == drift.to_bytes()
