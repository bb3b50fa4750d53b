"""Dead letters: one way for every consumer to put a message aside, and to read it back.

A DLQ copy is the original message as it was read: the same key, the same value bytes
and every original header in their order. After them come Elava's own headers (the
Kafka Connect convention): why (``elava_dlq_reason``, always the first of them), where
from (``elava_dlq_topic``/``_partition``/``_offset``), when (``elava_dlq_time``) and
who put it aside (``elava_dlq_by``). So the copy can be replayed as it is.

A replayed copy carries the original headers again plus ``elava_replay_of`` (the DLQ
entry it came from) and ``elava_replayed_at``: consumers recognise it, and if it fails
again its new DLQ entry says where it had been.

Pure: senders are plain callables, so a Faust topic, an aiokafka producer or a batch
of sends all fit (``via_producer``, ``via_topic``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elava import telemetry
from elava.events import utcnow

log = logging.getLogger("elava.dlq")

REASON, TOPIC, PARTITION, OFFSET = "elava_dlq_reason", "elava_dlq_topic", "elava_dlq_partition", "elava_dlq_offset"
TIME, BY = "elava_dlq_time", "elava_dlq_by"
REPLAY_OF, REPLAYED_AT = "elava_replay_of", "elava_replayed_at"
MAX_REASON_BYTES = 8192

Headers = list[tuple[str, bytes]]
Send = Callable[[bytes | None, bytes | None, Headers], Awaitable[Any]]


def via_producer(producer: Any, topic: str) -> Send:
    """Dead letters through an aiokafka producer, each awaited until the broker has it."""
    return lambda key, value, headers: producer.send_and_wait(topic, value=value, key=key, headers=headers)


def via_topic(topic: Any) -> Send:
    """Dead letters through a Faust topic (raw bytes)."""
    return lambda key, value, headers: topic.send(key=key, value=value, headers=headers)


def headers_of(record: Any) -> Headers:
    """A record's headers as a list, whether the client gave a list, tuples or a mapping."""
    raw = getattr(record, "headers", None) or []
    items = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(name), value if isinstance(value, bytes) else str(value).encode()) for name, value in items]


def letter_headers(original: Headers, *, reason: str, topic: str, partition: int, offset: int, by: str,
                   now: datetime) -> Headers:
    return [*original,
            (REASON, reason.encode()[:MAX_REASON_BYTES]), (TOPIC, str(topic).encode()),
            (PARTITION, str(partition).encode()), (OFFSET, str(offset).encode()),
            (TIME, now.isoformat().encode()), (BY, by.encode())]


async def dead_letter(send: Send, record: Any, reason: str, *, by: str) -> None:
    """Copy ``record`` (anything with topic, partition, offset, key, value, headers: a Faust
    message or an aiokafka record) to the DLQ untouched, saying why and where from."""
    log.warning("dead letter from %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)
    telemetry.record_dead_letter(reason, by)
    headers = letter_headers(headers_of(record), reason=reason, topic=record.topic, partition=record.partition,
                             offset=record.offset, by=by, now=utcnow())
    await send(record.key, record.value, headers)


@dataclass(frozen=True)
class DlqEntry:
    """One record of the DLQ topic, split back into the original message and why it is there."""

    dlq_partition: int
    dlq_offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers  # the original message's, in order
    reason: str
    topic: str | None
    partition: int | None
    offset: int | None
    time: datetime | None
    by: str
    replay_of: str | None  # set when the message that failed was itself a replay

    @property
    def ref(self) -> str:
        """The entry's name in the DLQ (and in the replay record): ``partition/offset``."""
        return f"{self.dlq_partition}/{self.dlq_offset}"

    @classmethod
    def from_record(cls, record: Any) -> DlqEntry:
        headers = headers_of(record)
        starts = [i for i, (name, _) in enumerate(headers) if name == REASON]
        cut = starts[-1] if starts else len(headers)  # written by someone else: all of it is original
        original, ours = headers[:cut], dict((name, value.decode(errors="replace")) for name, value in headers[cut:])
        replay_of = next((v.decode(errors="replace") for n, v in reversed(original) if n == REPLAY_OF), None)
        return cls(record.partition, record.offset, record.key, record.value, original, ours.get(REASON, ""),
                   ours.get(TOPIC), _int(ours.get(PARTITION)), _int(ours.get(OFFSET)),
                   _time(ours.get(TIME), getattr(record, "timestamp", None)), ours.get(BY, ""), replay_of)

    def replay_headers(self, dlq_topic: str, now: datetime) -> Headers:
        """The original headers (less an earlier round's replay headers), then this replay's."""
        kept = [(name, value) for name, value in self.headers if name not in (REPLAY_OF, REPLAYED_AT)]
        return [*kept, (REPLAY_OF, f"{dlq_topic}/{self.ref}".encode()), (REPLAYED_AT, now.isoformat().encode())]


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _time(text: str | None, timestamp_ms: int | None) -> datetime | None:
    if text:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    if timestamp_ms is None or timestamp_ms < 0:
        return None
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)


@dataclass(frozen=True)
class Selection:
    """Which entries a `dlq list` or `dlq replay` is about; None matches everything."""

    reason: str | None = None  # a part of the reason, any case
    since: datetime | None = None  # dead-lettered at or after
    topic: str | None = None  # the source topic, full name or without the prefix (``observations``)

    def matches(self, entry: DlqEntry, prefix: str) -> bool:
        if self.reason and self.reason.lower() not in entry.reason.lower():
            return False
        if self.since and (entry.time is None or entry.time < self.since):
            return False
        return not self.topic or entry.topic in (self.topic, f"{prefix}.{self.topic}")
