"""Messaging family: SQS queues.

SQS lists queue URLs; ``get_queue_attributes`` gives everything else (ARN, policy,
encryption, redrive). Message counts move on their own and are left out. A queue
policy that lets anyone (``Principal: *``) act without a condition is public; a
condition (``aws:SourceArn`` of a topic, the usual SNS subscription) narrows it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from elava.catalogue.identity import allowed_principals, open_to_anyone, policy_document
from elava.catalogue.registry import register
from elava.catalogue.relations import uses
from elava.catalogue.trail import Custom, TrailCall, family
from elava.catalogue.types import DetailCall, Lookup, ResourceType
from elava.events import TouchedResource

SQS = "sqs.amazonaws.com"

_NUMBERS = {
    "visibility_timeout_seconds": "VisibilityTimeout",
    "retention_seconds": "MessageRetentionPeriod",
    "delay_seconds": "DelaySeconds",
    "max_message_bytes": "MaximumMessageSize",
    "receive_wait_seconds": "ReceiveMessageWaitTimeSeconds",
}


def _number(text: Any) -> int | float | None:
    if text in (None, ""):
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def _redrive(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    policy = json.loads(text)
    return {"dead_letter_target": policy.get("deadLetterTargetArn"),
            "max_receive_count": _number(policy.get("maxReceiveCount"))}


def normalise_queue(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    found = raw.get("Attributes") or {}
    policy = policy_document(found.get("Policy"))
    kms_key = found.get("KmsMasterKeyId")
    managed_sse = found.get("SqsManagedSseEnabled") == "true"
    return {
        **attributes,
        **{name: _number(found.get(key)) for name, key in _NUMBERS.items()},
        "fifo": found.get("FifoQueue") == "true",
        "kms_key": kms_key,
        "sqs_managed_sse": managed_sse,
        "encrypted": bool(kms_key) or managed_sse,
        "redrive": _redrive(found.get("RedrivePolicy")),
        "policy_principals": allowed_principals(policy),
        "public": open_to_anyone(policy),
        "created": _number(found.get("CreatedTimestamp")),
    }


# https://sqs.eu-west-1.amazonaws.com/111122223333/orders: the account, then the name.
_QUEUE_URL = re.compile(r"^https?://[^/]+/(?P<account>\d{12})/(?P<name>[^/]+)/?$")
_QUEUE_PATHS = ("request.queueUrl", "response.queueUrl", "request.queueName")


def queues_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    """By queue URL (the account is the URL's), or by name where only a name is given."""
    found = []
    for reference in call.ids(*_QUEUE_PATHS):
        if match := _QUEUE_URL.match(reference):
            found.append(call.make(type_name, match["name"], account=match["account"]))
        elif "/" not in reference:
            found.append(call.make(type_name, reference))
    return list({touched.uid: touched for touched in found}.values())


SQS_QUEUE = register(
    ResourceType(
        name="sqs.queue",
        service="sqs",
        list_operation="list_queues",
        list_params={"MaxResults": 1000},
        result_path="QueueUrls",
        item_key="QueueUrl",
        id_field="split(QueueUrl, '/')[-1]",  # the queue's name
        name_field="split(QueueUrl, '/')[-1]",
        arn_field="Attributes.QueueArn",
        arn_template="arn:{partition}:sqs:{region}:{account}:{id}",
        # ListQueues by prefix; the exact name is kept.
        lookup=Lookup("QueueNamePrefix", as_list=False, params={"MaxResults": 1000}),
        describe=DetailCall("get_queue_attributes", {"QueueUrl": "QueueUrl"}, "Attributes", result_path="Attributes",
                            static_params={"AttributeNames": ["All"]},
                            none_errors=frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})),
        tags_from="detail:Tags",
        bulk_tags="sqs",  # a queue's ARN names no resource type
        details=(
            DetailCall("list_queue_tags", {"QueueUrl": "QueueUrl"}, "Tags", result_path="Tags", default={},
                       none_errors=frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})),
        ),
        attributes={"url": "QueueUrl"},
        transform=normalise_queue,
        edges=(
            uses("dead-letter-queue", "sqs.queue", "redrive.dead_letter_target"),
            uses("kms-key", "kms.key", "kms_key"),
        ),
        trail=(
            family("SQS queues", SQS,
                   "CreateQueue DeleteQueue SetQueueAttributes AddPermission RemovePermission TagQueue UntagQueue",
                   Custom(queues_named, _QUEUE_PATHS),
                   where="queueUrl (its account and name), else queueName"),
        ),
    )
)
