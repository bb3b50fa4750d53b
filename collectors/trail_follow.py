"""A long-running collector follows `elava.cloudtrail`: what CloudTrail names is asked again.

The resource collectors reuse unchanged resources' details between scans
(`collectors.aws.detail_cache`). The CloudTrail collectors publish every change they
see to the cloudtrail topic (LookupEvents, log files, EventBridge); before each scan
the resource collector reads what arrived since its last look and touches the
resources named there, so their details are asked at once rather than at the next
full refresh. Every collector reads every partition (no group): any of them may scan
any account. It starts at the end: at start-up the cache is empty and asks everything.
"""

from __future__ import annotations

import logging

from aiokafka import TopicPartition

from collectors.aws.detail_cache import DetailCache
from elava.events import TrailEvent
from elava.exceptions import SchemaError
from elava.kafka.clients import new_consumer
from elava.kafka.topic_read import partitions_of
from elava.settings import Settings
from elava.topics import Topics

log = logging.getLogger(__name__)


def touch_from_records(details: DetailCache, values: list[bytes]) -> int:
    """Touch the resources the trail events name; returns how many events were read.
    A malformed record is the worker's to send to the DLQ: here it is skipped."""
    events = []
    for value in values:
        try:
            events.append(TrailEvent.from_bytes(value))
        except SchemaError as exc:
            log.debug("skipping an unreadable cloudtrail record: %s", exc)
    details.note_trail(events)
    return len(events)


class TrailFollower:
    def __init__(self, settings: Settings, details: DetailCache) -> None:
        self._settings = settings
        self._details = details
        self._topic = Topics(settings.kafka).cloudtrail
        self._consumer = new_consumer(settings.kafka)
        self._parts: list[TopicPartition] = []

    async def start(self) -> None:
        self._parts = [TopicPartition(self._topic, p) for p in await partitions_of(self._settings.kafka, self._topic)]
        await self._consumer.start()
        if self._parts:
            self._consumer.assign(self._parts)
            await self._consumer.seek_to_end(*self._parts)

    async def catch_up(self) -> int:
        """Read what arrived up to the current end of every partition; returns events read."""
        if not self._parts:
            return 0
        ends = await self._consumer.end_offsets(self._parts)
        read = 0
        while pending := [tp for tp in self._parts if await self._consumer.position(tp) < ends[tp]]:
            batch = await self._consumer.getmany(*pending, timeout_ms=1000)
            # Every record returned is touched, even past `ends`: the consumer has moved past it
            # and would not return it again (an extra touch only asks a detail once more).
            values = [r.value for part in batch.values() for r in part]
            read += touch_from_records(self._details, values)
        return read

    async def stop(self) -> None:
        await self._consumer.stop()
