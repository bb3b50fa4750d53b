"""Notification channels: webhook, Slack and SNS each get one message per notice, with its key."""

from __future__ import annotations

import boto3
import orjson
import pytest
from pydantic import SecretStr

from elava.settings import load_settings
from streams.drivers.executor.notify import Notifier, Slack, Webhook, notifier_for
from streams.executor.exceptions import NotificationError
from streams.executor.plan import notice, result_for
from tests.unit.streams.executor.fixtures import NOW, REGION, WebhookReceiver, request


def announcement() -> dict:
    return notice(request("stop"), kind="announcement", dry_run=False, not_before=NOW)


async def test_webhook_and_slack_each_get_the_notice():
    with WebhookReceiver() as hook, WebhookReceiver() as slack:
        notifier = Notifier([Webhook(SecretStr(hook.url)), Slack(SecretStr(slack.url))])
        body = announcement()
        await notifier.send(body)
        await notifier.close()
    assert hook.notices == [body] and hook.keys == {body["idempotency_key"]: 1}
    [message] = slack.notices
    assert set(message) == {"text"} and body["summary"] in message["text"]
    assert body["idempotency_key"] in message["text"]


async def test_a_refusing_channel_makes_the_notice_fail_naming_it():
    with WebhookReceiver() as hook:
        notifier = Notifier([Webhook(SecretStr(hook.url)), Slack(SecretStr("http://127.0.0.1:9/down"))], delay=0)
        with pytest.raises(NotificationError, match="slack"):
            await notifier.send(announcement())
        await notifier.close()
    assert len(hook.notices) == 1  # the others still got it


async def test_sns_gets_the_notice_with_its_key(aws):
    sns = boto3.client("sns", region_name=REGION, endpoint_url=aws)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=aws)
    topic = sns.create_topic(Name="elava-notices")["TopicArn"]
    queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    settings = load_settings(None, executor__sns_topic_arn=topic, providers__aws__endpoint_url=aws)
    notifier = notifier_for(settings)
    req = request("stop")
    body = notice(req, kind="executed", dry_run=False, not_before=None,
                  result=result_for(req, "executed", "stopped instance i-0abc", dry_run=False, now=NOW))
    await notifier.send(body)
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = orjson.loads(message["Body"])
    assert orjson.loads(envelope["Message"]) == body
    assert envelope["MessageAttributes"]["idempotency_key"]["Value"] == f"{req.event_id}:executed"


def test_channels_come_from_settings():
    settings = load_settings(None, executor__notify_webhook="http://hook", executor__slack_webhook="http://slack",
                             executor__sns_topic_arn="arn:aws:sns:us-east-1:123456789012:t")
    assert [c.name for c in notifier_for(settings).channels] == ["webhook", "slack", "sns"]
    assert notifier_for(load_settings(None)).channels == []
