"""Reading whole topics back in integration tests."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from elava.kafka.clients import new_consumer
from elava.settings import KafkaSettings


async def read_topic(kafka: str | KafkaSettings, topic: str, partitions: int, timeout: float = 120.0) -> list:
    """Every record of ``topic`` from the beginning up to its end offsets at the time of the call.
    Reading to the end offsets, not "until a quiet second", so a slow fetch on a busy machine
    cannot cut the answer short. ``kafka``: bootstrap servers of a plaintext broker, or settings."""
    settings = KafkaSettings(bootstrap_servers=kafka) if isinstance(kafka, str) else kafka
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(parts)
        records = []
        async with asyncio.timeout(timeout):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for part in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                    records.extend(part)
        return records
    finally:
        await consumer.stop()


def compare_by_id(expected: dict, actual: dict, what: str) -> str:
    """A short account of how two maps of events by id differ ('' when equal): pytest's own
    diff of two 14,000-entry dicts takes minutes to render."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    if not (missing or extra or changed):
        return ""
    lines = [f"{what}: {len(missing)} missing, {len(extra)} extra, {len(changed)} different "
             f"(of {len(expected)} expected)"]
    lines += [f"  missing {k}: {expected[k]!r:.400}" for k in missing[:3]]
    lines += [f"  extra {k}: {actual[k]!r:.400}" for k in extra[:3]]
    lines += [f"  different {k}:\n    expected {expected[k]!r:.600}\n    actual   {actual[k]!r:.600}"
              for k in changed[:3]]
    return "\n".join(lines)
