"""The drift stage publishes the drift the embedded driver derives in-process, from the worker's
attributed changes alone: the same events under the same ids, once per attribution."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest

from elava.analyzer_events import DriftEvent
from elava.events import REATTRIBUTED, AttributedChange
from elava.settings import KafkaSettings, Settings
from elava.topics import Topics
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.drift_stage import DriftStage, may_drift
from streams.drivers.worker.sinks import WorkerSinks
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.drivers.worker.test_batch_send import Partitions
from tests.unit.streams.fixtures import T0, page, sg
from tests.unit.streams.test_process import SSH_WORLD, trail


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple = ()
    timestamp: int = 0


class Kept(list):
    def append(self, timestamp, key, value, headers):  # aiokafka's signature
        super().append((key, value, tuple(headers)))
        return True


class Broker(Partitions):
    """Takes the stage's batches, keeping each record's topic, value and headers."""

    def __init__(self) -> None:
        super().__init__({}, default=6)
        self.records: list[tuple[str, bytes, tuple]] = []

    def create_batch(self) -> Kept:
        return Kept()

    async def send_batch(self, batch, topic: str, partition: int):
        self.records.extend((topic, value, headers) for _, value, headers in batch)
        return await super().send_batch([key for key, _, _ in batch], topic, partition)


def worker_run(drift_here: bool, settings: Settings):
    """A modification, then the CloudTrail event that names its actor: (what the processor
    derived itself, the attributed-change records the worker publishes)."""
    analyzer = settings.analyzer
    processor = PartitionProcessor(VersionStore(MemoryKV()), analyzer.drift, analyzer.patterns, drift_here=drift_here)
    sends = BatchedSends(lambda: Partitions({}, default=6))
    sinks = WorkerSinks.on(Topics(settings.kafka), sends, "test")
    derived, records = [], []
    inputs = [page([sg("sg-1")], T0, scan="s1"), page([sg("sg-1", ingress=[SSH_WORLD])], T0 + timedelta(hours=1),
                                                        scan="s2"),
              trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=30))]
    for event in inputs:
        produced = processor.process(event)
        derived.extend(produced.drift)
        asyncio.run(sinks.publish(event, produced))
    for (topic, _), pending in sends._pending.items():
        if topic == sinks.attributed.topic:
            records.extend(Record(topic, 0, len(records), key, value, tuple(headers)) for key, value, headers in pending)
    return derived, records


def staged(settings: Settings, records: list[Record]) -> list[tuple[str, bytes, tuple]]:
    stage = DriftStage(settings)
    stage.producer = broker = Broker()
    asyncio.run(stage.handle({None: records}))
    return broker.records


def drift_of(published, topics: Topics) -> list[DriftEvent]:
    return [DriftEvent.from_bytes(value) for topic, value, _ in published if topic == topics.drift]


@pytest.mark.parametrize("attribution", [True, False])
def test_the_stage_publishes_what_the_processor_would_have_derived(attribution):
    settings = Settings(kafka=KafkaSettings(), analyzer={"drift": {"attribution": attribution}})
    inline, _ = worker_run(True, settings)
    none_here, records = worker_run(False, settings)
    published = staged(settings, records)
    assert none_here == [] and len(records) == 3  # created, modified, modified again with its actor
    assert [(d.event_id, d.actor) for d in drift_of(published, Topics(settings.kafka))] == \
        [(d.event_id, d.actor) for d in inline]
    assert len(inline) == (2 if attribution else 1)
    ocsf = [value for topic, value, _ in published if topic == Topics(settings.kafka).ocsf]
    assert len(ocsf) == len(inline)  # the SIEM's copy of each


def test_only_modifications_are_parsed(monkeypatch):
    settings = Settings()
    _, records = worker_run(False, settings)
    parsed = []
    original = AttributedChange.from_bytes.__func__

    def counting(cls, data):
        parsed.append(original(cls, data).change.kind)
        return original(cls, data)

    monkeypatch.setattr(AttributedChange, "from_bytes", classmethod(counting))
    staged(settings, records)
    assert parsed == ["modified", "modified"]  # the creation was not parsed
    assert not may_drift(records[0].value) and may_drift(records[1].value)


def test_a_reattribution_is_marked_and_a_malformed_modification_goes_to_the_dlq():
    settings = Settings()
    _, records = worker_run(False, settings)
    assert [REATTRIBUTED in r.headers for r in records] == [False, False, True]
    bad = Record(records[1].topic, 0, 9, b"sg-1", b'{"change": {"kind":"modified"}}')
    published = staged(settings, [bad])
    topics = Topics(settings.kafka)
    [(topic, value, headers)] = published
    assert topic == topics.dlq and value == bad.value
    assert any(name == "elava_dlq_reason" for name, _ in headers)
