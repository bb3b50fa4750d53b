"""Kafka plumbing shared by the collectors, the CLI and the worker (aiokafka)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from elava.events import Event, cloudevent_headers
from elava.kafka_security import explain_refusal, security_options
from elava.settings import KafkaSettings
from elava.topics import Topics

log = logging.getLogger(__name__)


@dataclass
class TopicReport:
    created: list[str]
    existing: list[str]
    mismatched: list[str]


async def ensure_topics(settings: KafkaSettings) -> TopicReport:
    """Create every catalog topic that is missing; safe to run any number of times."""
    topics = Topics(settings)
    admin = new_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, topics.partitions, topics.replication_factor, topic_configs=spec.configs())
            for name, spec in topics.all() if name not in existing
        ]
        if wanted:
            await admin.create_topics(wanted)
            await _wait_for_leaders(admin, [t.name for t in wanted])
        present = [name for name, _ in topics.all() if name in existing]
        mismatched = await _partition_mismatches(admin, present, topics.partitions)
        return TopicReport([t.name for t in wanted], present, mismatched)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float = 30.0) -> None:
    """New partitions are not writable until a leader is elected; wait for that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        described = await admin.describe_topics(names)
        if all(p.get("leader", -1) >= 0 for d in described for p in d.get("partitions", [])) and all(
            d.get("partitions") for d in described
        ):
            return
        await asyncio.sleep(0.1)
    log.warning("topics still without leaders after %.0fs: %s", timeout, ", ".join(names))


async def _partition_mismatches(admin: AIOKafkaAdminClient, names: list[str], partitions: int) -> list[str]:
    if not names:
        return []
    described = await admin.describe_topics(names)
    return [d["topic"] for d in described if len(d.get("partitions", [])) != partitions]


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """What every aiokafka client of Elava is built with: the one place for connection settings."""
    return {"bootstrap_servers": settings.bootstrap_servers, **security_options(settings)}


class _ExplainsRefusal:
    """A client whose start() says why the brokers refused it, instead of "Unable to bootstrap"."""

    _elava_kafka: KafkaSettings

    async def start(self) -> None:
        try:
            await super().start()
        except KafkaConnectionError as exc:
            refusal = await explain_refusal(self._elava_kafka)
            if refusal is None:
                raise
            raise refusal from exc


class Producer(_ExplainsRefusal, AIOKafkaProducer):
    pass


class Consumer(_ExplainsRefusal, AIOKafkaConsumer):
    pass


class Admin(_ExplainsRefusal, AIOKafkaAdminClient):
    pass


def _explaining(client: _ExplainsRefusal, settings: KafkaSettings) -> Any:
    client._elava_kafka = settings
    return client


def new_producer(settings: KafkaSettings, **options: Any) -> Producer:
    # Idempotence keeps per-partition order across retries: a scan marker must
    # never overtake the pages it closes.
    defaults = {"enable_idempotence": True, "acks": "all", "linger_ms": 5, "compression_type": None,
                "max_request_size": 4 * 1024 * 1024}
    return _explaining(Producer(**client_options(settings), **{**defaults, **options}), settings)


def new_consumer(settings: KafkaSettings, *topics: str, **options: Any) -> Consumer:
    """A consumer (offsets committed by hand unless ``enable_auto_commit`` is passed)."""
    consumer = Consumer(*topics, **client_options(settings), **{"enable_auto_commit": False, **options})
    return _explaining(consumer, settings)


def new_admin(settings: KafkaSettings) -> Admin:
    return _explaining(Admin(**client_options(settings)), settings)


async def publish(producer: AIOKafkaProducer, topic: str, key: str, event: Event, source: str) -> None:
    await producer.send(topic, value=event.to_bytes(), key=key.encode(), headers=cloudevent_headers(event, source))
