"""Reading whole topics back in integration tests."""

from __future__ import annotations

from aiokafka import TopicPartition

from elava.kafka import new_consumer
from elava.settings import KafkaSettings


async def read_topic(kafka: str | KafkaSettings, topic: str, partitions: int) -> list:
    """Every record of ``topic`` from the beginning, until a second passes with none.
    ``kafka``: the bootstrap servers of a plaintext broker, or the settings to connect with."""
    settings = KafkaSettings(bootstrap_servers=kafka) if isinstance(kafka, str) else kafka
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        records = []
        while batch := await consumer.getmany(timeout_ms=1000):
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()
