"""LookupEvents polling. moto does not implement cloudtrail:LookupEvents, so these tests
answer with aiobotocore's `AioStubber` (botocore's own Stubber for async clients)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aioboto3
import orjson
import pytest
from aiobotocore.stub import AioStubber
from botocore.stub import ANY

from collectors.aws.calls import Backoff
from collectors.cloudtrail.checkpoints import MemoryCheckpoints
from collectors.cloudtrail.lookup import LookupCursor, LookupPoller, RateLimiter
from collectors.cloudtrail.sink import ListTrailSink, trail_key
from tests.unit.collectors.cloudtrail.fixtures import ACCOUNT, REGION, group_uid, sg_record

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
T1 = NOW - timedelta(minutes=30)
T2 = NOW - timedelta(minutes=10)
FAST = Backoff(attempts=4, base_seconds=0.001, cap_seconds=0.002)


def lookup_event(event_id: str, when: datetime, group: str = "sg-0123456789abcdef0") -> dict:
    record = sg_record(event_id, group, when=when)
    return {"EventId": event_id, "EventName": record["eventName"], "EventTime": when,
            "CloudTrailEvent": orjson.dumps(record).decode()}


@pytest.fixture
async def client(aws):
    session = aioboto3.Session(region_name=REGION)
    async with session.client("cloudtrail", region_name=REGION) as cloudtrail:
        with AioStubber(cloudtrail) as stubber:
            yield cloudtrail, stubber
            stubber.assert_no_pending_responses()


def poller(cloudtrail, checkpoints=None, sink=None) -> LookupPoller:
    return LookupPoller(cloudtrail, ACCOUNT, REGION, sink or ListTrailSink(), checkpoints or MemoryCheckpoints(),
                        backoff=FAST, limiter=RateLimiter(1000.0))


async def test_a_first_poll_pages_through_the_lookback_window_and_checkpoints(client):
    cloudtrail, stubber = client
    first = {"StartTime": NOW - timedelta(hours=1), "EndTime": NOW, "MaxResults": 50}
    stubber.add_response("lookup_events", {"Events": [lookup_event("e3", T2, "sg-3")], "NextToken": "t1"}, first)
    stubber.add_response("lookup_events", {"Events": [lookup_event("e2", T1, "sg-2"), lookup_event("e1", T1)]},
                         {**first, "NextToken": "t1"})
    checkpoints, sink = MemoryCheckpoints(), ListTrailSink(buckets=4)

    assert await poller(cloudtrail, checkpoints, sink).poll(NOW) == 3

    assert [e.trail_event_id for _, e in sink.published] == ["e3", "e2", "e1"]
    assert [e.resource.uid for _, e in sink.published] == [group_uid("sg-3"), group_uid("sg-2"), group_uid()]
    assert all(key == trail_key(event, 4) and key.startswith(f"{ACCOUNT}/{REGION}/ec2.security-group/")
               for key, event in sink.published)
    assert checkpoints.get(f"lookup/{ACCOUNT}/{REGION}") == {"time": T2.isoformat(), "ids": ["e3"]}


async def test_a_second_poll_starts_late_delivery_before_the_checkpoint_and_skips_the_ids_seen(client):
    cloudtrail, stubber = client
    checkpoints = MemoryCheckpoints({f"lookup/{ACCOUNT}/{REGION}": {"time": T2.isoformat(), "ids": ["e3"]}})
    later = NOW + timedelta(minutes=1)
    # e3 comes again, e4 shares its second, e5 is newer.
    stubber.add_response("lookup_events", {"Events": [
        lookup_event("e5", NOW), lookup_event("e4", T2, "sg-4"), lookup_event("e3", T2, "sg-3")]},
        {"StartTime": T2 - timedelta(minutes=15), "EndTime": later, "MaxResults": 50})
    sink = ListTrailSink()

    assert await poller(cloudtrail, checkpoints, sink).poll(later) == 2

    assert [e.trail_event_id for _, e in sink.published] == ["e5", "e4"]
    # T2 is 10 minutes before e5: its events may still be listed again, so their ids stay.
    assert checkpoints.get(f"lookup/{ACCOUNT}/{REGION}") == {"time": NOW.isoformat(), "ids": ["e3", "e4", "e5"]}


async def test_an_event_appearing_after_newer_ones_were_read_is_published_once(client):
    cloudtrail, stubber = client
    window = {"StartTime": ANY, "EndTime": ANY, "MaxResults": 50}
    stubber.add_response("lookup_events", {"Events": [lookup_event("e2", T2)]}, window)
    # e1, a call made before e2, shows up in LookupEvents only after e2 was read.
    stubber.add_response("lookup_events", {"Events": [lookup_event("e2", T2), lookup_event("e1", T2 - timedelta(
        minutes=4), "sg-1")]}, {**window, "StartTime": T2 - timedelta(minutes=15)})
    stubber.add_response("lookup_events", {"Events": [lookup_event("e2", T2), lookup_event("e1", T2 - timedelta(
        minutes=4), "sg-1")]}, {**window, "StartTime": T2 - timedelta(minutes=15)})
    checkpoints, sink = MemoryCheckpoints(), ListTrailSink()
    source = poller(cloudtrail, checkpoints, sink)

    assert [await source.poll(NOW + timedelta(minutes=m)) for m in (0, 1, 2)] == [1, 1, 0]
    assert [e.trail_event_id for _, e in sink.published] == ["e2", "e1"]
    assert checkpoints.get(f"lookup/{ACCOUNT}/{REGION}") == {"time": T2.isoformat(), "ids": ["e1", "e2"]}


async def test_ids_older_than_the_window_are_dropped_from_the_checkpoint(client):
    cloudtrail, stubber = client
    checkpoints = MemoryCheckpoints({f"lookup/{ACCOUNT}/{REGION}": {"time": T1.isoformat(), "ids": ["e1"]}})
    stubber.add_response("lookup_events", {"Events": [lookup_event("e2", T2), lookup_event("e1", T1)]},
                         {"StartTime": T1 - timedelta(minutes=15), "EndTime": NOW, "MaxResults": 50})

    assert await poller(cloudtrail, checkpoints).poll(NOW) == 1
    assert checkpoints.get(f"lookup/{ACCOUNT}/{REGION}") == {"time": T2.isoformat(), "ids": ["e2"]}


async def test_two_polls_over_the_same_events_publish_them_once(client):
    cloudtrail, stubber = client
    answer = {"Events": [lookup_event("e2", T2, "sg-2"), lookup_event("e1", T2)]}
    stubber.add_response("lookup_events", answer, {"StartTime": ANY, "EndTime": ANY, "MaxResults": 50})
    stubber.add_response("lookup_events", answer, {"StartTime": T2 - timedelta(minutes=15), "EndTime": ANY,
                                                   "MaxResults": 50})
    checkpoints, sink = MemoryCheckpoints(), ListTrailSink()
    source = poller(cloudtrail, checkpoints, sink)

    assert await source.poll(NOW) == 2
    assert await source.poll(NOW + timedelta(minutes=1)) == 0

    assert sorted(e.trail_event_id for _, e in sink.published) == ["e1", "e2"]
    assert checkpoints.writes == 1  # nothing new: the position did not move


async def test_a_throttled_page_is_retried_with_its_token(client):
    cloudtrail, stubber = client
    stubber.add_response("lookup_events", {"Events": [lookup_event("e1", T1)], "NextToken": "t1"})
    for _ in range(2):
        stubber.add_client_error("lookup_events", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("lookup_events", {"Events": [lookup_event("e2", T2, "sg-2")]},
                         {"StartTime": ANY, "EndTime": ANY, "MaxResults": 50, "NextToken": "t1"})
    sink = ListTrailSink()

    assert await poller(cloudtrail, sink=sink).poll(NOW) == 2
    assert [e.trail_event_id for _, e in sink.published] == ["e1", "e2"]


async def test_a_failed_poll_publishes_its_pages_but_keeps_the_checkpoint(client):
    cloudtrail, stubber = client
    stubber.add_response("lookup_events", {"Events": [lookup_event("e1", T1)], "NextToken": "t1"})
    stubber.add_client_error("lookup_events", service_error_code="AccessDeniedException", http_status_code=403)
    checkpoints = MemoryCheckpoints()

    with pytest.raises(Exception, match="AccessDenied"):
        await poller(cloudtrail, checkpoints).poll(NOW)
    assert checkpoints.positions == {}  # the next poll reads the whole window again


async def test_the_rate_limiter_spaces_calls():
    limiter = RateLimiter(50.0)  # 20 ms apart
    loop_time = asyncio.get_running_loop().time
    started = loop_time()
    for _ in range(5):
        await limiter.acquire()
    assert loop_time() - started >= 4 * 0.02 * 0.9


def test_a_cursor_round_trips_through_json():
    cursor = LookupCursor(T2, {"b", "a"})
    assert LookupCursor.from_json(cursor.to_json()) == cursor
    assert LookupCursor.from_json(None) == LookupCursor()
