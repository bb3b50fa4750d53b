"""EventBridge → SQS on moto: envelopes (bare or in SNS) in, TrailEvents out, messages deleted
only after the publish; malformed bodies stay on the queue for its redrive policy."""

from __future__ import annotations

import aioboto3
import boto3
import orjson
import pytest

from collectors.cloudtrail.eventbridge import SqsPoller, body_events
from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
from collectors.cloudtrail.sink import ListTrailSink
from tests.unit.collectors.cloudtrail.fixtures import REGION, envelope, group_uid, sg_record


def sns_wrapped(event: dict) -> dict:
    return {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:trail",
            "Message": orjson.dumps(event).decode(), "Timestamp": "2026-11-02T10:04:32.000Z"}


@pytest.fixture
def queue(aws):
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=aws)
    url = sqs.create_queue(QueueName="trail", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    return sqs, url


async def drain(aws, url, sink) -> SqsPoller:
    async with aioboto3.Session().client("sqs", region_name=REGION, endpoint_url=aws) as client:
        poller = SqsPoller(client, url, sink)
        await poller.drain(wait_seconds=0)
    return poller


def waiting(sqs, url) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


async def test_envelopes_bare_and_in_sns_are_published_then_deleted(aws, queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(envelope(sg_record("e1"))).decode())
    sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(sns_wrapped(envelope(sg_record("e2", "sg-2")))).decode())
    sink = ListTrailSink()

    poller = await drain(aws, url, sink)

    assert sorted(e.trail_event_id for _, e in sink.published) == ["e1", "e2"]
    assert {e.resource.uid for _, e in sink.published} == {group_uid(), group_uid("sg-2")}
    assert (poller.stats.received, poller.stats.deleted, poller.stats.malformed) == (2, 2, 0)
    assert waiting(sqs, url) == (0, 0)


async def test_a_malformed_body_publishes_nothing_and_stays_on_the_queue(aws, queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    sqs.send_message(QueueUrl=url, MessageBody='{"detail-type": "EC2 Instance State-change Notification"}')
    sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(envelope(sg_record("e1"))).decode())
    sink = ListTrailSink()

    poller = await drain(aws, url, sink)

    assert [e.trail_event_id for _, e in sink.published] == ["e1"]
    assert (poller.stats.deleted, poller.stats.malformed) == (1, 2)
    assert waiting(sqs, url) == (0, 2)  # in flight: back after the visibility timeout, or to the DLQ


class FailingSink:
    async def publish(self, events):
        raise ConnectionError("broker gone")


async def test_nothing_is_deleted_when_the_publish_fails(aws, queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(envelope(sg_record("e1"))).decode())

    with pytest.raises(ConnectionError):
        await drain(aws, url, FailingSink())

    assert waiting(sqs, url) == (0, 1)


def test_a_read_only_call_is_read_but_gives_no_event():
    record = sg_record("e1", name="DescribeSecurityGroups")
    record["readOnly"] = True
    assert body_events(orjson.dumps(envelope(record))) == []


def test_an_sns_envelope_around_something_else_is_malformed():
    with pytest.raises(UnreadableTrail):
        body_events(orjson.dumps(sns_wrapped({"hello": "world"})))
