"""Reading the audit trail back: the action results on ``<prefix>.action-results``.

Every partition is read from ``since`` (Kafka's time index, so a week of results is
not read to show an hour) to its end at the moment of asking; then the results are
filtered and sorted by when they were finished.
"""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from elava.events import ActionResult
from elava.exceptions import SchemaError
from elava.kafka.clients import new_consumer
from elava.settings import Settings
from elava.topics import Topics


async def read_results(settings: Settings, since: datetime | None = None, uid: str | None = None) -> list[ActionResult]:
    """Results finished at or after ``since`` for the resource ``uid`` (its uid or its id), oldest first."""
    topic = Topics(settings.kafka).action_results
    consumer = new_consumer(settings.kafka)
    await consumer.start()
    try:
        # The topics are made with kafka.partitions partitions (`elava topics create`).
        parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        consumer.assign(parts)
        await _seek(consumer, parts, since)
        ends = {tp: end for tp, end in (await consumer.end_offsets(parts)).items()
                if end > await consumer.position(tp)}
        results = await _read_until(consumer, ends)
    finally:
        await consumer.stop()
    wanted = [r for r in results if (since is None or r.finished_at >= since) and (uid is None or _names(r, uid))]
    return sorted(wanted, key=lambda r: r.finished_at)


async def _seek(consumer: AIOKafkaConsumer, parts: list[TopicPartition], since: datetime | None) -> None:
    if since is None:
        await consumer.seek_to_beginning(*parts)
        return
    found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in parts})
    ends = await consumer.end_offsets(parts)
    for tp in parts:
        consumer.seek(tp, found[tp].offset if found.get(tp) else ends[tp])


async def _read_until(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[ActionResult]:
    results: list[ActionResult] = []
    while ends:
        batch = await consumer.getmany(*ends, timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                try:
                    results.append(ActionResult.from_bytes(record.value))
                except SchemaError:
                    continue  # not a result this build reads: the trail shows what it can
            if records and records[-1].offset + 1 >= ends[tp]:
                del ends[tp]
    return results


def _names(result: ActionResult, ref: str) -> bool:
    return result.uid == ref or result.uid.endswith(("/" + ref, ":" + ref))
