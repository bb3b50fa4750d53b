"""CloudTrail log files in moto S3: listed after the checkpointed key, gunzipped, published."""

from __future__ import annotations

import gzip

import aioboto3
import boto3
import orjson
import pytest

from collectors.aws.calls import client_config
from collectors.cloudtrail.checkpoints import MemoryCheckpoints
from collectors.cloudtrail.s3logs import S3LogPoller, log_prefix
from collectors.cloudtrail.sink import ListTrailSink
from tests.unit.collectors.cloudtrail.fixtures import ACCOUNT, REGION, group_uid, sg_record

BUCKET = "org-trail"
FOLDER = f"trails/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/02/"


def log_file(*records: dict) -> bytes:
    return gzip.compress(orjson.dumps({"Records": list(records)}))


def name(stamp: str) -> str:
    return f"{FOLDER}{ACCOUNT}_CloudTrail_{REGION}_20261102T{stamp}Z_abc.json.gz"


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION, endpoint_url=aws)
    client.create_bucket(Bucket=BUCKET)
    return client


async def poll(aws, checkpoints, sink) -> int:
    session = aioboto3.Session()
    async with session.client("s3", region_name=REGION, endpoint_url=aws, config=client_config(4, aws)) as client:
        return await S3LogPoller(client, BUCKET, ACCOUNT, REGION, sink, checkpoints, prefix="trails").poll()


async def test_log_files_are_published_once_and_new_ones_after_the_checkpoint(aws, s3):
    s3.put_object(Bucket=BUCKET, Key=name("1005"), Body=log_file(sg_record("e1"), sg_record("e2", "sg-2")))
    s3.put_object(Bucket=BUCKET, Key=name("1010"), Body=log_file(sg_record("e3", "sg-3")))
    other_region = f"trails/AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/11/02/x.json.gz"
    s3.put_object(Bucket=BUCKET, Key=other_region, Body=log_file(sg_record("e9", region="eu-west-1")))
    digest = f"trails/AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/11/02/d.json.gz"
    s3.put_object(Bucket=BUCKET, Key=digest, Body=b"{}")
    checkpoints, sink = MemoryCheckpoints(), ListTrailSink()

    assert await poll(aws, checkpoints, sink) == 3
    assert [e.trail_event_id for _, e in sink.published] == ["e1", "e2", "e3"]
    assert {e.resource.uid for _, e in sink.published} == {group_uid(), group_uid("sg-2"), group_uid("sg-3")}
    assert checkpoints.get(f"s3/{ACCOUNT}/{REGION}")["last_key"] == name("1010")

    assert await poll(aws, checkpoints, sink) == 0  # nothing new
    s3.put_object(Bucket=BUCKET, Key=name("1015"), Body=log_file(sg_record("e4", "sg-4")))
    assert await poll(aws, checkpoints, sink) == 1
    assert sink.published[-1][1].trail_event_id == "e4"


async def test_an_unreadable_file_is_passed_not_retried_forever(aws, s3):
    s3.put_object(Bucket=BUCKET, Key=name("1005"), Body=gzip.compress(b'{"not": "cloudtrail"}'))
    s3.put_object(Bucket=BUCKET, Key=name("1010"), Body=log_file(sg_record("e1")))
    checkpoints, sink = MemoryCheckpoints(), ListTrailSink()

    assert await poll(aws, checkpoints, sink) == 1
    assert checkpoints.get(f"s3/{ACCOUNT}/{REGION}")["last_key"] == name("1010")


async def test_a_checkpoint_of_another_bucket_is_ignored(aws, s3):
    s3.put_object(Bucket=BUCKET, Key=name("1005"), Body=log_file(sg_record("e1")))
    stale = {"bucket": "old-bucket", "folder": "x/", "last_key": name("9999")}
    checkpoints = MemoryCheckpoints({f"s3/{ACCOUNT}/{REGION}": stale})

    assert await poll(aws, checkpoints, ListTrailSink()) == 1


def test_log_prefixes_of_account_and_organization_trails():
    assert log_prefix("", "111122223333", "eu-west-1") == "AWSLogs/111122223333/CloudTrail/eu-west-1/"
    assert log_prefix("/trails/", "111122223333", "eu-west-1", "o-abc123") == (
        "trails/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/")
