"""A long-running collector's trail follower on the real broker: nothing it moves past is lost."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from collectors.aws.detail_cache import CachedDetails, DetailCache
from collectors.cloudtrail.sink import KafkaTrailSink, events_of
from collectors.trail_follow import TrailFollower
from elava.kafka.clients import ensure_topics, new_producer
from elava.settings import load_settings
from elava.topics import Topics
from tests.unit.collectors.cloudtrail.fixtures import group_uid, sg_record

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _cached(group: str) -> CachedDetails:
    return CachedDetails(b"listed", {}, "us-east-1", NOW - timedelta(minutes=5), group_uid(group))


async def test_a_record_published_during_a_catch_up_still_touches_its_resource(kafka_bootstrap):
    """The first catch-up takes the end offsets, then a second event arrives before its fetch: the
    fetch returns both and moves past both, so the second's resource must be touched then."""
    settings = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap,
                             kafka__topic_prefix=f"follow-{uuid.uuid4().hex[:6]}", kafka__partitions=1)
    await ensure_topics(settings.kafka)
    cache = DetailCache(timedelta(hours=6), clock=lambda: NOW)
    first, late = _cached("sg-0aaaaaaaaaaaaaaaa"), _cached("sg-0bbbbbbbbbbbbbbbb")
    producer = new_producer(settings.kafka)
    await producer.start()
    sink = KafkaTrailSink(producer, Topics(settings.kafka).cloudtrail, settings.kafka.shard_buckets)
    follower = TrailFollower(settings, cache)
    await follower.start()
    consumer = follower._consumer  # the race is forced on the real consumer: no fetch until both are in
    consumer.pause(*follower._parts)
    try:
        await sink.publish(events_of([sg_record("e-1", "sg-0aaaaaaaaaaaaaaaa")]))
        # A fetch sent before the pause may bring that record (it waits at most fetch_max_wait_ms,
        # 500 ms): let it end, then seek, which drops what it brought. The next fetch brings both.
        await asyncio.sleep(1)
        consumer.seek(follower._parts[0], 0)
        end_offsets = consumer.end_offsets

        async def ends_then_a_late_event(parts):
            ends = await end_offsets(parts)
            await sink.publish(events_of([sg_record("e-2", "sg-0bbbbbbbbbbbbbbbb")]))
            consumer.resume(*parts)
            return ends

        consumer.end_offsets = ends_then_a_late_event
        await follower.catch_up()
        consumer.end_offsets = end_offsets
        await follower.catch_up()  # the next scan's catch-up: nothing left to read on the broker
    finally:
        await follower.stop()
        await producer.stop()
    assert not cache.reusable(first, b"listed")
    assert not cache.reusable(late, b"listed")  # asked again now, not at the 6 h refresh
