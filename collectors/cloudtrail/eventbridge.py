"""EventBridge → SQS: CloudTrail calls as EventBridge delivers them, seconds after.

An EventBridge rule (``detail-type: "AWS API Call via CloudTrail"``) targets an SQS
queue, directly or through an SNS topic (then each body is an SNS envelope whose
``Message`` is the EventBridge event; both are read). We long-poll the queue,
publish each message's TrailEvents, and delete the messages only once the broker
acknowledged those events: a crash in between redelivers them, with the same ids.

A malformed body publishes nothing and is *not* deleted: it is logged and left to
the queue's redrive policy, which moves it to the queue's dead-letter queue after
``maxReceiveCount`` receives. Give the queue a redrive policy; without one such a
message comes back after every visibility timeout (and is logged again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
from collectors.cloudtrail.normalize.records import records_in, trail_events
from collectors.cloudtrail.sink import TrailSink
from elava.events import TrailEvent

log = logging.getLogger(__name__)
MAX_MESSAGES = 10  # SQS's largest batch


def body_events(body: str | bytes) -> list[TrailEvent]:
    """The TrailEvents of one message body; UnreadableTrail if it is not CloudTrail."""
    try:
        document = orjson.loads(body)
        if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
            document = orjson.loads(document["Message"])  # SNS envelope (raw delivery off)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise UnreadableTrail(f"not JSON: {exc}") from None
    return [event for record in records_in(document) for event in trail_events(record)]


@dataclass
class SqsStats:
    received: int = 0
    published: int = 0
    deleted: int = 0
    malformed: int = 0


@dataclass
class SqsPoller:
    """Reads one queue (often a central one fed by every account's event bus)."""

    client: Any
    queue_url: str
    sink: TrailSink
    wait_seconds: int = 20
    stats: SqsStats = field(default_factory=SqsStats)

    async def receive_once(self, wait_seconds: int | None = None) -> int:
        """One receive: publish, then delete what was read. Returns messages received."""
        answer = await self.client.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=self.wait_seconds if wait_seconds is None else wait_seconds)
        messages = answer.get("Messages", [])
        done, events = [], []
        for message in messages:
            try:
                events.extend(body_events(message["Body"]))
                done.append(message)
            except UnreadableTrail as exc:
                self.stats.malformed += 1
                log.warning("SQS message %s is not a CloudTrail event, left for the redrive policy: %s",
                            message.get("MessageId"), exc)
        await self.sink.publish(events)  # acknowledged before anything is deleted
        await self._delete(done)
        self.stats.received += len(messages)
        self.stats.published += len(events)
        return len(messages)

    async def _delete(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        answer = await self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        for failed in answer.get("Failed", []):
            # It will come back: its events are republished with the same ids.
            log.warning("could not delete SQS message %s: %s", failed.get("Id"), failed.get("Message"))
        self.stats.deleted += len(answer.get("Successful", []))

    async def drain(self, wait_seconds: int = 1) -> SqsStats:
        """Receive until the queue answers empty (``--once``)."""
        while await self.receive_once(wait_seconds):
            pass
        return self.stats
