"""`elava watch`'s CloudTrail side: LookupEvents into the embedded pipeline, its checkpoint in
the local store. moto has no LookupEvents: botocore's own Stubber answers (as in
tests/unit/collectors/cloudtrail/test_lookup.py); tests/integration/test_watch.py runs the
whole loop against moto with the trail's log files in S3."""

from __future__ import annotations

from datetime import timedelta

import aioboto3
import orjson
import pytest
from aiobotocore.stub import AioStubber

from collectors.aws.calls import Backoff
from collectors.aws.detail_cache import CachedDetails, DetailCache
from collectors.cloudtrail.lookup import LookupPoller, RateLimiter
from collectors.cloudtrail.normalize.records import trail_events
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.drivers.embedded.watch import PipelineTrailSink, StoreCheckpoints
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from tests.unit.collectors.cloudtrail.fixtures import sg_record
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, page, sg

SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
NOW = T0 + timedelta(hours=2)


def lookup_answer(event_id: str, when) -> dict:
    record = sg_record(event_id, "sg-1", when=when, account=ACCOUNT, region=REGION)
    return {"Events": [{"EventId": event_id, "EventName": record["eventName"], "EventTime": when,
                        "CloudTrailEvent": orjson.dumps(record).decode()}]}


@pytest.fixture
async def cloudtrail():
    session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    async with session.client("cloudtrail", region_name=REGION) as client:
        with AioStubber(client) as stubber:
            yield client, stubber
            stubber.assert_no_pending_responses()


def poller(client, store: VersionStore, pipeline: EmbeddedPipeline) -> LookupPoller:
    return LookupPoller(client, ACCOUNT, REGION, PipelineTrailSink(pipeline), StoreCheckpoints(store),
                        backoff=Backoff(attempts=2, base_seconds=0.001, cap_seconds=0.002),
                        limiter=RateLimiter(1000.0))


async def test_a_late_lookup_event_attributes_the_stored_change_and_its_checkpoint_stays_in_the_store(
        cloudtrail, tmp_path):
    client, stubber = cloudtrail
    kv = RocksKV(tmp_path / "store")
    store = VersionStore(kv)
    pipeline = EmbeddedPipeline(store)
    await pipeline.page(page([sg("sg-1")], T0, scan="s1"))
    await pipeline.page(page([sg("sg-1", ingress=[SSH])], T0 + timedelta(hours=1), scan="s2"))
    assert [a.provisional for a in pipeline.outputs.attributed] == [True, True]  # no trail yet
    pipeline.outputs.clear()

    made = T0 + timedelta(minutes=50)
    stubber.add_response("lookup_events", lookup_answer("e1", made),
                         {"StartTime": NOW - timedelta(hours=1), "EndTime": NOW, "MaxResults": 50})
    assert await poller(client, store, pipeline).poll(NOW) == 1

    (late,) = pipeline.outputs.attributed
    assert (late.change.new_version, late.actor.name, late.provisional) == (2, "alice", False)
    kv.close()

    kv = RocksKV(tmp_path / "store")  # the next cycle opens the store again: it starts where this one ended
    try:
        store = VersionStore(kv)
        assert StoreCheckpoints(store).get(f"lookup/{ACCOUNT}/{REGION}") == {"time": made.isoformat(), "ids": ["e1"]}
        stubber.add_response("lookup_events", {"Events": []},
                             {"StartTime": made - timedelta(minutes=15), "EndTime": NOW + timedelta(minutes=5),
                              "MaxResults": 50})
        assert await poller(client, store, EmbeddedPipeline(store)).poll(NOW + timedelta(minutes=5)) == 0
    finally:
        kv.close()


async def test_a_trail_event_of_the_cycle_makes_the_scan_describe_that_resource_again(tmp_path):
    # The cycle's scan reuses details of unchanged resources; what CloudTrail named must be asked again.
    store = VersionStore(RocksKV(tmp_path / "store"))
    details = DetailCache(timedelta(hours=6), clock=lambda: NOW)
    events = trail_events(sg_record("e-1", "sg-1", when=NOW - timedelta(minutes=5), account=ACCOUNT, region=REGION))
    cached = CachedDetails(listed=b"listed", values={}, region=REGION, fetched=NOW - timedelta(minutes=30),
                           uid=events[0].resource.uid)
    assert details.reusable(cached, b"listed")
    await PipelineTrailSink(EmbeddedPipeline(store), details).publish(events)
    assert not details.reusable(cached, b"listed")
