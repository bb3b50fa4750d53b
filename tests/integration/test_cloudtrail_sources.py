"""CloudTrail sources onto a real broker: EventBridge envelopes from (moto) SQS and a log
file from (moto) S3 become TrailEvents keyed by their resource's shard; checkpoints in
the compacted topic make a second run publish nothing new."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from typer.testing import CliRunner

from collectors.cloudtrail.checkpoints import read_latest
from collectors.cloudtrail.service import run_trail_collector
from elava.cli.main import app
from elava.demo.simulated import SimulatedAccount
from elava.events import TrailEvent
from elava.settings import load_settings
from elava.sharding import shard_of
from elava.topics import Topics
from tests.integration.reading import read_topic
from tests.unit.collectors.cloudtrail.fixtures import ACCOUNT, REGION, envelope, group_uid, sg_record

pytestmark = pytest.mark.integration
BUCKET = "trail-logs"
DELIVERED = datetime.now(UTC)  # within the first poll's lookback (an hour)
LOG_KEY = (f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{DELIVERED:%Y/%m/%d}/"
           f"{ACCOUNT}_CloudTrail_{REGION}_{DELIVERED:%Y%m%dT%H%M}Z_a.json.gz")


def plant(account: SimulatedAccount) -> str:
    """Two envelopes (one delivered twice) on the queue, one log file in the bucket."""
    sqs = account.client("sqs")
    url = sqs.create_queue(QueueName=f"trail-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    first = orjson.dumps(envelope(sg_record("e1"))).decode()
    for body in (first, first, orjson.dumps(envelope(sg_record("e2", "sg-2"))).decode()):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    s3 = account.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=LOG_KEY, Body=gzip.compress(orjson.dumps({"Records": [sg_record("e3", "sg-3")]})))
    return url


def trail_settings(bootstrap: str, account: SimulatedAccount, queue_url: str, prefix: str):
    return load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=prefix,
                         kafka__partitions=2, kafka__shard_buckets=4,
                         providers__aws__endpoint_url=account.endpoint_url,
                         cloudtrail__sources=["eventbridge", "s3"], cloudtrail__sqs_queue_url=queue_url,
                         cloudtrail__s3_bucket=BUCKET)


async def trail_on(bootstrap: str, topics: Topics) -> list[tuple[str, TrailEvent]]:
    records = await read_topic(bootstrap, topics.cloudtrail)
    return [(r.key.decode(), TrailEvent.from_bytes(r.value)) for r in records]


async def test_sqs_envelopes_and_s3_log_files_become_trail_events_keyed_by_shard(kafka_bootstrap, account):
    settings = trail_settings(kafka_bootstrap, account, plant(account), f"trail-{uuid.uuid4().hex[:6]}")

    report = await run_trail_collector(settings, once=True)

    assert report.failures == {}
    assert report.published == {"eventbridge": 3, f"s3/{ACCOUNT}/{REGION}": 1}
    published = await trail_on(kafka_bootstrap, Topics(settings.kafka))
    assert sorted(e.trail_event_id for _, e in published) == ["e1", "e1", "e2", "e3"]
    for key, event in published:
        assert key == shard_of(event.resource.uid, ACCOUNT, REGION, "ec2.security-group", 4)
    assert {e.resource.uid for _, e in published} == {group_uid(), group_uid("sg-2"), group_uid("sg-3")}
    duplicates = [e.event_id for _, e in published if e.trail_event_id == "e1"]
    assert len(set(duplicates)) == 1  # a redelivered message is the same event: the join deduplicates


async def test_checkpoints_make_a_second_run_publish_nothing_new(kafka_bootstrap, account):
    settings = trail_settings(kafka_bootstrap, account, plant(account), f"again-{uuid.uuid4().hex[:6]}")
    topics = Topics(settings.kafka)
    await run_trail_collector(settings, once=True)

    second = await run_trail_collector(settings, once=True)  # a new run: checkpoints come from Kafka

    assert second.published == {"eventbridge": 0, f"s3/{ACCOUNT}/{REGION}": 0}
    assert len(await trail_on(kafka_bootstrap, topics)) == 4
    positions = await read_latest(settings.kafka, topics.checkpoints, 2)
    assert positions[f"s3/{ACCOUNT}/{REGION}"]["last_key"] == LOG_KEY


def test_elava_trail_collect_once_from_the_command_line(kafka_bootstrap, account, tmp_path):
    queue_url, prefix = plant(account), f"cli-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "elava.yaml"
    config.write_text(f"kafka: {{topic_prefix: {prefix}, partitions: 2}}\n"
                      f"cloudtrail: {{sources: [s3, eventbridge], s3_bucket: {BUCKET}, sqs_queue_url: '{queue_url}'}}\n")

    done = CliRunner().invoke(app, ["trail", "collect", "--once", "-c", str(config), "-b", kafka_bootstrap,
                                    "--endpoint-url", account.endpoint_url])

    assert done.exit_code == 0, done.output
    assert f"s3/{ACCOUNT}/{REGION}: 1 trail events" in done.output and "eventbridge: 3" in done.output
    settings = load_settings(config, kafka__bootstrap_servers=kafka_bootstrap)
    assert len(asyncio.run(trail_on(kafka_bootstrap, Topics(settings.kafka)))) == 4
