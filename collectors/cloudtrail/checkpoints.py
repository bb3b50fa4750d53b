"""Where each CloudTrail source got to, in a compacted topic shared by all collectors.

Key ``source/account/region`` (e.g. ``lookup/111122223333/eu-west-1``), value the
source's own position as JSON. The latest value per key is read once at start-up;
a source writes its new position after each successful poll, and only after the
events of that poll were acknowledged by the broker (at-least-once: a crash between
the two republishes a poll, whose events keep their ids).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from elava.events import utcnow
from elava.kafka.clients import new_consumer
from elava.settings import KafkaSettings

log = logging.getLogger(__name__)


def checkpoint_key(source: str, account: str, region: str) -> str:
    return f"{source}/{account}/{region}"


class Checkpoints(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(self, key: str, position: dict[str, Any]) -> None: ...


class MemoryCheckpoints:
    """Positions in a dict: unit tests, and runs that need not survive a restart."""

    def __init__(self, positions: dict[str, dict[str, Any]] | None = None) -> None:
        self.positions = dict(positions or {})
        self.writes = 0

    def get(self, key: str) -> dict[str, Any] | None:
        return self.positions.get(key)

    async def put(self, key: str, position: dict[str, Any]) -> None:
        self.positions[key] = position
        self.writes += 1


class KafkaCheckpoints(MemoryCheckpoints):
    """Positions read from the checkpoints topic at start-up and written back to it."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        super().__init__()
        self.producer = producer
        self.topic = topic

    async def load(self, kafka: KafkaSettings, partitions: int) -> KafkaCheckpoints:
        self.positions = await read_latest(kafka, self.topic, partitions)
        return self

    async def put(self, key: str, position: dict[str, Any]) -> None:
        value = orjson.dumps({"position": position, "saved_at": utcnow().isoformat()})
        # send_and_wait: a position is only kept once the broker has it.
        await self.producer.send_and_wait(self.topic, key=key.encode(), value=value)
        await super().put(key, position)


async def read_latest(kafka: KafkaSettings, topic: str, partitions: int) -> dict[str, dict[str, Any]]:
    """The last value of every key, reading each partition up to its end at start-up."""
    consumer = new_consumer(kafka)
    await consumer.start()
    try:
        found = consumer.partitions_for_topic(topic) or range(partitions)
        assigned = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(assigned)
        latest: dict[str, dict[str, Any]] = {}
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    _apply(latest, record.key, record.value)
        return latest
    finally:
        await consumer.stop()


def _apply(latest: dict[str, dict[str, Any]], key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    if value is None:  # a tombstone forgets the position: the source starts afresh
        latest.pop(key.decode(), None)
        return
    try:
        latest[key.decode()] = orjson.loads(value)["position"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("ignoring an unreadable checkpoint for %s", key.decode(errors="replace"))
