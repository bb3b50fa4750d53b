"""Messaging family: SQS queues, their encryption, redrive and who their policy lets in."""

from __future__ import annotations

import json

from elava.catalogue import registry
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"


def _policy(principal, condition: dict | None = None) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@covers("sqs.queue")
async def test_queues_with_their_policy_encryption_and_dead_letter_queue(scan, boto):
    sqs = boto("sqs")
    sqs.create_queue(QueueName="orders-dlq", Attributes={"SqsManagedSseEnabled": "false"})
    dlq_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dlq"
    sqs.create_queue(QueueName="orders", tags={"owner": "orders"}, Attributes={
        "VisibilityTimeout": "60", "KmsMasterKeyId": "alias/aws/sqs",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        "Policy": _policy("*")})
    sqs.create_queue(QueueName="events", Attributes={"Policy": _policy(
        {"Service": "sns.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t"}})})

    run = await scan([registry.get("sqs.queue")])

    queues = {r.id: r for r in run.resources("sqs.queue")}
    assert set(queues) == {"orders", "orders-dlq", "events"}
    orders = queues["orders"]
    assert orders.uid == f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
    assert (orders.type, orders.name, orders.tags) == ("sqs.queue", "orders", {"owner": "orders"})
    assert orders.attributes["visibility_timeout_seconds"] == 60
    assert orders.attributes["redrive"] == {"dead_letter_target": dlq_arn, "max_receive_count": 5}
    assert (orders.attributes["kms_key"], orders.attributes["encrypted"]) == ("alias/aws/sqs", True)
    assert (orders.attributes["policy_principals"], orders.attributes["public"]) == (["*"], True)
    assert queues["events"].attributes["public"] is False  # a service, narrowed to one topic
    assert queues["orders-dlq"].attributes["encrypted"] is False
    assert "ApproximateNumberOfMessages" not in json.dumps(orders.attributes)  # moves on its own
    assert run.report.calls_by_type() == {"sqs.queue": 1 + 3 * 1} and run.report.shared_calls == 1  # tags in bulk
