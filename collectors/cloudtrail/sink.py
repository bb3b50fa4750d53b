"""Publishing side of the CloudTrail sources: TrailEvents keyed by their resource's shard.

`publish` returns only once the broker has acknowledged every event, because the
sources act on that (delete the SQS message, move the checkpoint).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
from collectors.cloudtrail.normalize.records import trail_events
from collectors.cloudtrail.normalize.resources import shard_for
from elava.events import TrailEvent, cloudevent_headers

log = logging.getLogger(__name__)
SOURCE = "elava/cloudtrail"


def trail_key(event: TrailEvent, buckets: int) -> str:
    """The shard key of the touched resource: it meets its observations in one partition."""
    return shard_for(event.resource, event.account, event.region, buckets)


def events_of(records: Iterable[Mapping[str, Any]]) -> list[TrailEvent]:
    """TrailEvents of many records; a record that cannot be read is logged and skipped."""
    events: list[TrailEvent] = []
    for record in records:
        try:
            events.extend(trail_events(record))
        except UnreadableTrail as exc:
            log.warning("skipping CloudTrail record %s: %s", record.get("eventID", "?"), exc)
    return events


class TrailSink(Protocol):
    async def publish(self, events: list[TrailEvent]) -> None: ...


class ListTrailSink:
    """Keeps (key, event) pairs: unit tests."""

    def __init__(self, buckets: int = 16) -> None:
        self.buckets = buckets
        self.published: list[tuple[str, TrailEvent]] = []

    async def publish(self, events: list[TrailEvent]) -> None:
        self.published.extend((trail_key(event, self.buckets), event) for event in events)


class KafkaTrailSink:
    def __init__(self, producer: AIOKafkaProducer, topic: str, buckets: int) -> None:
        self.producer = producer
        self.topic = topic
        self.buckets = buckets
        self.count = 0

    async def publish(self, events: list[TrailEvent]) -> None:
        acks = [
            await self.producer.send(self.topic, value=event.to_bytes(), key=trail_key(event, self.buckets).encode(),
                                     headers=cloudevent_headers(event, SOURCE))
            for event in events
        ]
        if acks:
            await asyncio.gather(*acks)  # raises if any send failed: the caller keeps its input
        self.count += len(events)
