"""Reading a whole topic as it is now: every partition from its beginning to its end."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from elava.kafka import new_consumer
from elava.settings import KafkaSettings


async def read_to_end(kafka: KafkaSettings, topic: str) -> list[Any]:
    """Every record of ``topic`` up to the end offsets it had when called, partition by partition
    (for compacted bookkeeping topics and the DLQ, which are small)."""
    consumer = new_consumer(kafka)
    await consumer.start()
    try:
        found = consumer.partitions_for_topic(topic) or range(kafka.partitions)
        parts = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: list[Any] = []
        while pending := [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, part in batch.items():
                records.extend(r for r in part if r.offset < ends[tp])
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()
