"""Reading whole topics back in integration tests."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_topic(bootstrap: str, topic: str, partitions: int) -> list:
    """Every record of ``topic`` from the beginning, until a second passes with none."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
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
