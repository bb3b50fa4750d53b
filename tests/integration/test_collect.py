"""`elava collect`'s publishing path: a moto account scanned onto the real broker."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from collectors.service import run_collector
from elava.events import Observation, ScanMarker
from elava.settings import load_settings
from elava.topics import Topics
from tests.integration.reading import read_topic

pytestmark = pytest.mark.integration
TYPES = ["ec2.instance", "s3.bucket", "ec2.security-group"]


async def test_collect_publishes_pages_then_markers_per_shard_and_summaries(kafka_bootstrap, account):
    ec2 = account.client("ec2")
    for n in range(3):
        ec2.create_security_group(GroupName=f"g{n}", Description="d")
    account.client("s3").create_bucket(Bucket="collect-test")
    prefix = f"collect-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=prefix,
                             kafka__partitions=2, kafka__shard_buckets=4,
                             providers__aws__endpoint_url=account.endpoint_url)
    scans = []
    partial = await run_collector(settings, on_scan=scans.extend, type_names=TYPES)
    assert partial is False
    topics = Topics(settings.kafka)

    records = await read_topic(kafka_bootstrap, topics.observations)
    kinds = Counter(dict(r.headers)["ce_type"] for r in records)
    assert kinds[b"elava.scan-marker"] == len(TYPES) * 4  # one per shard, empty shards too
    pages = [Observation.from_bytes(r.value) for r in records if dict(r.headers)["ce_type"] == b"elava.observation"]
    assert all(r.key.decode() == page.shard for r, page in zip(
        [r for r in records if dict(r.headers)["ce_type"] == b"elava.observation"], pages, strict=True))
    names = {res.name for page in pages for res in page.resources if res.type == "ec2.security-group"}
    assert {"g0", "g1", "g2", "default"} <= names
    assert any(res.id == "collect-test" for page in pages for res in page.resources)

    summaries = [ScanMarker.from_bytes(r.value) for r in await read_topic(kafka_bootstrap, topics.scan_markers)]
    assert {(m.type, m.status, m.shard) for m in summaries} == {(t, "ok", "*") for t in TYPES}
    by_type = {m.type: m.count for m in summaries}
    assert by_type["ec2.security-group"] >= 4 and by_type["s3.bucket"] >= 1
    assert scans and scans[0].report.account == "123456789012"


async def test_markers_follow_their_pages_within_each_partition(kafka_bootstrap, account):
    account.client("ec2").create_security_group(GroupName="ordered", Description="d")
    prefix = f"order-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=prefix,
                             kafka__partitions=2, kafka__shard_buckets=4,
                             providers__aws__endpoint_url=account.endpoint_url)
    await run_collector(settings, type_names=["ec2.security-group"])
    records = await read_topic(kafka_bootstrap, Topics(settings.kafka).observations)
    closed: set[str] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        shard = record.key.decode()
        if dict(record.headers)["ce_type"] == b"elava.scan-marker":
            closed.add(shard)
        else:
            assert shard not in closed, "a page arrived after its shard's marker"


async def test_collect_interval_reuses_details_and_asks_again_what_the_cloudtrail_topic_names(kafka_bootstrap,
                                                                                              account):
    """A bucket's versioning does not show in ListBuckets: between two scans of `elava collect
    --interval` it changes and a CloudTrail event naming it reaches the cloudtrail topic; the second
    scan asks that bucket's details again (and only that one's) and publishes the change."""
    import asyncio

    from collectors.cloudtrail.sink import KafkaTrailSink, events_of
    from elava.kafka.clients import new_producer

    s3 = account.client("s3")
    for name in ("steady-bucket", "changed-bucket"):
        s3.create_bucket(Bucket=name)
    prefix = f"reuse-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=prefix,
                             kafka__partitions=2, kafka__shard_buckets=4,
                             providers__aws__endpoint_url=account.endpoint_url)
    scans, scanned = [], asyncio.Event()

    def on_scan(done):
        scans.extend(done)
        scanned.set()

    collector = asyncio.create_task(run_collector(settings, interval=3, on_scan=on_scan, type_names=["s3.bucket"]))
    try:
        await asyncio.wait_for(scanned.wait(), 60)
        scanned.clear()
        s3.put_bucket_versioning(Bucket="changed-bucket", VersioningConfiguration={"Status": "Enabled"})
        record = {"eventVersion": "1.09", "eventTime": "2026-11-02T10:05:00Z", "eventSource": "s3.amazonaws.com",
                  "eventName": "PutBucketVersioning", "awsRegion": "us-east-1", "eventID": "e-1",
                  "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice",
                                   "accountId": "123456789012"},
                  "requestParameters": {"bucketName": "changed-bucket"}, "readOnly": False,
                  "eventType": "AwsApiCall", "recipientAccountId": "123456789012"}
        producer = new_producer(settings.kafka)
        await producer.start()
        try:
            await KafkaTrailSink(producer, Topics(settings.kafka).cloudtrail, 4).publish(events_of([record]))
        finally:
            await producer.stop()
        await asyncio.wait_for(scanned.wait(), 60)
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)

    first, second = scans[0].report, scans[1].report
    assert first.calls_by_type()["s3.bucket"] == 2 + 2 * 7  # listing, account block; location and 6 settings each
    assert second.calls_by_type()["s3.bucket"] == 2 + 7  # only the bucket CloudTrail named was asked again
    records = await read_topic(kafka_bootstrap, Topics(settings.kafka).observations)
    pages = [Observation.from_bytes(r.value) for r in records if dict(r.headers)["ce_type"] == b"elava.observation"]
    seen = [(page.scan_id, res.attributes["versioning"]) for page in pages for res in page.resources
            if res.id == "changed-bucket"]
    assert seen == [(first.scan_id, "Disabled"), (second.scan_id, "Enabled")]
