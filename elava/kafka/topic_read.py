"""Reading a whole topic as it is now: every partition from its beginning to its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import TopicPartition

from elava.kafka.clients import new_admin, new_consumer
from elava.settings import KafkaSettings

READ_TIMEOUT_S = 60


async def partitions_of(kafka: KafkaSettings, topic: str) -> list[int]:
    """The partitions ``topic`` has, none if it does not exist (asked without creating it:
    the metadata of every topic, since a broker may auto-create a topic asked for by name)."""
    admin = new_admin(kafka)
    await admin.start()
    try:
        described = await admin.describe_topics()
    finally:
        await admin.close()
    found = next((d for d in described if d["topic"] == topic and not d.get("error_code")), None)
    return sorted(p["partition"] for p in found["partitions"]) if found else []


async def read_to_end(kafka: KafkaSettings, topic: str) -> list[Any]:
    """Every record of ``topic`` up to the end offsets it had when called, in partition and
    offset order (for compacted bookkeeping topics and the DLQ, which are small)."""
    parts = [TopicPartition(topic, p) for p in await partitions_of(kafka, topic)]
    if not parts:
        return []
    consumer = new_consumer(kafka)
    await consumer.start()
    try:
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


async def read_between(kafka: KafkaSettings, topic: str, partition: int, start: int, end: int) -> list[Any]:
    """The records of one partition from offset ``start`` up to (not including) ``end``, as they
    are now: what retention deleted, or what a transaction's markers hold, is simply not there."""
    return [record async for batch in batches_between(kafka, topic, partition, start, end) for record in batch]


async def batches_between(kafka: KafkaSettings, topic: str, partition: int, start: int,
                          end: int) -> AsyncIterator[list[Any]]:
    """``read_between`` a fetch at a time (a fetch is at most ``max_partition_fetch_bytes``)."""
    part = TopicPartition(topic, partition)
    consumer = new_consumer(kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([part])
        first = (await consumer.beginning_offsets([part]))[part]
        last = min(end, (await consumer.end_offsets([part]))[part])
        consumer.seek(part, max(start, first))
        deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
        while await consumer.position(part) < last:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{topic}[{partition}]: offsets {start}..{end - 1} not read in {READ_TIMEOUT_S} s")
            batch = [r for r in (await consumer.getmany(part, timeout_ms=1000)).get(part, []) if start <= r.offset < end]
            if batch:
                deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
                yield batch
    finally:
        await consumer.stop()
