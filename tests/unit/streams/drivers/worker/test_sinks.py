"""The worker's sinks: what the drift stage is told about an attribution published again."""

from __future__ import annotations

from datetime import timedelta

from elava.events import REATTRIBUTED
from elava.settings import KafkaSettings
from elava.topics import Topics
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.sinks import WorkerSinks
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.drivers.worker.test_batch_send import Partitions
from tests.unit.streams.fixtures import T0, page, sg
from tests.unit.streams.test_process import SSH_WORLD, trail


def published(sends: BatchedSends, topic: str) -> list[bytes]:
    return [value for (to, _), records in sends._pending.items() if to == topic for _, value, _ in records]


def published_headers(sends: BatchedSends, topic: str) -> list[list]:
    return [list(headers) for (to, _), records in sends._pending.items() if to == topic for _, _, headers in records]


async def test_an_attribution_published_again_is_marked_so_for_the_drift_stage_and_a_first_one_is_not():
    topics = Topics(KafkaSettings())
    sends = BatchedSends(lambda: Partitions({}, default=6))
    sinks = WorkerSinks.on(topics, sends, "test")
    processor = PartitionProcessor(VersionStore(MemoryKV()), drift_here=False)
    processor.process(page([sg("sg-1")], T0, scan="s1"))
    modified = page([sg("sg-1", ingress=[SSH_WORLD])], T0 + timedelta(hours=1), scan="s2")
    await sinks.publish(modified, processor.process(modified))
    late = trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=30))
    await sinks.publish(late, processor.process(late))

    first, again = published_headers(sends, topics.attributed_changes)
    assert REATTRIBUTED not in first and REATTRIBUTED in again
    assert published(sends, topics.drift) == []  # the drift stage derives it
