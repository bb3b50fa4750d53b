"""What a long-running collector reads from the cloudtrail topic: the resources to ask again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.aws.detail_cache import CachedDetails, DetailCache
from collectors.cloudtrail.sink import events_of
from collectors.trail_follow import touch_from_records
from tests.unit.collectors.cloudtrail.fixtures import group_uid, sg_record

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _cached(uid: str) -> CachedDetails:
    return CachedDetails(b"listed", {}, "us-east-1", NOW - timedelta(minutes=5), uid)


def test_a_published_trail_event_makes_its_resource_asked_again_and_bad_records_are_skipped():
    cache = DetailCache(timedelta(hours=6), clock=lambda: NOW)
    named, other = _cached(group_uid("sg-0aaaaaaaaaaaaaaaa")), _cached(group_uid("sg-0bbbbbbbbbbbbbbbb"))
    assert cache.reusable(named, b"listed") and cache.reusable(other, b"listed")
    [event] = events_of([sg_record("e-1", "sg-0aaaaaaaaaaaaaaaa")])
    [on_other] = events_of([sg_record("e-2", "sg-0bbbbbbbbbbbbbbbb")])
    # What AWS refused or only read changed nothing (the trail sources keep both kinds).
    refused = [on_other.model_copy(update={"error_code": "UnauthorizedOperation"}),
               on_other.model_copy(update={"read_only": True})]

    read = touch_from_records(cache, [event.to_bytes(), b"not json", *(e.to_bytes() for e in refused)])

    assert read == 3
    assert not cache.reusable(named, b"listed")  # named: asked again
    assert cache.reusable(other, b"listed")  # a refused call changed nothing
    assert not cache.reusable(other, b"changed")  # a changed listing is always asked again
