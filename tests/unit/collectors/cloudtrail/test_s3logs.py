"""CloudTrail log files in moto S3: listed from the checkpointed window, gunzipped, published;
files landing late (after files named for later minutes) are still read, once."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import aioboto3
import boto3
import orjson
import pytest

from collectors.aws.calls import client_config
from collectors.cloudtrail.checkpoints import MemoryCheckpoints
from collectors.cloudtrail.s3logs import S3LogPoller, log_prefix, name_minute
from collectors.cloudtrail.sink import ListTrailSink
from tests.unit.collectors.cloudtrail.fixtures import ACCOUNT, REGION, group_uid, sg_record

BUCKET = "org-trail"
FOLDER = f"trails/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/02/"


def log_file(*records: dict) -> bytes:
    return gzip.compress(orjson.dumps({"Records": list(records)}))


def name(stamp: str, unique: str = "abc") -> str:
    return f"{FOLDER}{ACCOUNT}_CloudTrail_{REGION}_20261102T{stamp}Z_{unique}.json.gz"


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION, endpoint_url=aws)
    client.create_bucket(Bucket=BUCKET)
    return client


async def poll(aws, checkpoints, sink, **options) -> int:
    session = aioboto3.Session()
    async with session.client("s3", region_name=REGION, endpoint_url=aws, config=client_config(4, aws)) as client:
        return await S3LogPoller(client, BUCKET, ACCOUNT, REGION, sink, checkpoints, prefix="trails",
                                 **options).poll()


def ids(sink) -> list[str]:
    return [event.trail_event_id for _, event in sink.published]


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


async def test_a_file_landing_after_later_named_ones_is_read_once(aws, s3):
    s3.put_object(Bucket=BUCKET, Key=name("1005", "m0"), Body=log_file(sg_record("e1")))
    s3.put_object(Bucket=BUCKET, Key=name("1010", "m5"), Body=log_file(sg_record("e2")))
    checkpoints, sink = MemoryCheckpoints(), ListTrailSink()
    assert await poll(aws, checkpoints, sink) == 2

    # Both land after 10:10's file was read: one for the same minute whose random part
    # sorts first, one for an earlier minute.
    s3.put_object(Bucket=BUCKET, Key=name("1010", "a1"), Body=log_file(sg_record("e3")))
    s3.put_object(Bucket=BUCKET, Key=name("1008", "z9"), Body=log_file(sg_record("e4")))
    assert await poll(aws, checkpoints, sink) == 2
    assert await poll(aws, checkpoints, sink) == 0
    assert ids(sink) == ["e1", "e2", "e4", "e3"]


async def test_the_window_keeps_only_what_may_still_land_late(aws, s3):
    s3.put_object(Bucket=BUCKET, Key=name("1000"), Body=log_file(sg_record("e1")))
    s3.put_object(Bucket=BUCKET, Key=name("1030"), Body=log_file(sg_record("e2")))
    checkpoints, sink = MemoryCheckpoints(), ListTrailSink()
    assert await poll(aws, checkpoints, sink, late_delivery=timedelta(minutes=20)) == 2

    position = checkpoints.get(f"s3/{ACCOUNT}/{REGION}")
    assert position["read"] == ["2026/11/02/" + name("1030").rsplit("/", 1)[1]]  # 10:00 is out of the window
    assert position["start_after"] < name("1010") < position["start_after"] + "~"
    s3.put_object(Bucket=BUCKET, Key=name("1009"), Body=log_file(sg_record("e3")))  # later than allowed
    s3.put_object(Bucket=BUCKET, Key=name("1011"), Body=log_file(sg_record("e4")))
    assert await poll(aws, checkpoints, sink, late_delivery=timedelta(minutes=20)) == 1
    assert ids(sink) == ["e1", "e2", "e4"]


async def test_the_first_poll_goes_back_lookback_not_to_the_first_file(aws, s3):
    s3.put_object(Bucket=BUCKET, Key=name("0800"), Body=log_file(sg_record("e1")))
    s3.put_object(Bucket=BUCKET, Key=name("0930"), Body=log_file(sg_record("e2")))
    clock = lambda: datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # noqa: E731
    sink = ListTrailSink()
    assert await poll(aws, MemoryCheckpoints(), sink, lookback=timedelta(hours=1), clock=clock) == 1
    assert ids(sink) == ["e2"]


async def test_a_last_key_position_of_an_earlier_version_reads_its_window_again(aws, s3):
    for stamp, event in (("0800", "e1"), ("0930", "e2"), ("1000", "e3")):
        s3.put_object(Bucket=BUCKET, Key=name(stamp), Body=log_file(sg_record(event)))
    old = {"bucket": BUCKET, "folder": f"trails/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/", "last_key": name("1000")}
    checkpoints, sink = MemoryCheckpoints({f"s3/{ACCOUNT}/{REGION}": old}), ListTrailSink()
    assert await poll(aws, checkpoints, sink) == 2  # the hour before 10:00, again (same event ids)
    assert ids(sink) == ["e2", "e3"]


def test_the_minute_a_log_file_names():
    assert name_minute(name("1005")) == datetime(2026, 11, 2, 10, 5, tzinfo=UTC)
    assert name_minute(f"{FOLDER}{ACCOUNT}_CloudTrail_{REGION}_20261102T100559Z_x.json.gz") == datetime(
        2026, 11, 2, 10, 5, tzinfo=UTC)
    assert name_minute(f"{FOLDER}notes.json.gz") is None


def test_log_prefixes_of_account_and_organization_trails():
    assert log_prefix("", "111122223333", "eu-west-1") == "AWSLogs/111122223333/CloudTrail/eu-west-1/"
    assert log_prefix("/trails/", "111122223333", "eu-west-1", "o-abc123") == (
        "trails/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/")
