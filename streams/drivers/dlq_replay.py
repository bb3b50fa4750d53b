"""`elava dlq list | replay` on Kafka: read the DLQ, send entries back, remember what went.

A replay sends an entry to its source topic with its original key and headers (plus
``elava_replay_of``), then records it on the compacted ``dlq-replays`` topic, keyed by
the entry's ``partition/offset``; a later replay skips recorded entries unless asked
``again``. The record is written after the send: a crash between the two sends the
entry again next time, which consumers absorb (deterministic event ids, replay-safe
store), whereas the other order could lose it.

Entries go back in their original order per source partition (a page before the
marker that closes it), and only to the topics of this pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from elava.events import utcnow
from elava.kafka.clients import new_producer
from elava.kafka.topic_read import read_to_end
from elava.settings import KafkaSettings
from elava.topics import Topics
from streams.dlq.letters import DlqEntry, Selection


@dataclass
class ReplayReport:
    replayed: list[DlqEntry] = field(default_factory=list)
    already: list[DlqEntry] = field(default_factory=list)  # replayed before; skipped without ``again``
    refused: list[tuple[DlqEntry, str]] = field(default_factory=list)


async def read_entries(kafka: KafkaSettings, selection: Selection | None = None) -> list[DlqEntry]:
    """The DLQ's entries that match ``selection`` (all without one), in DLQ order."""
    entries = (DlqEntry.from_record(r) for r in await read_to_end(kafka, Topics(kafka).dlq))
    return [e for e in entries if selection is None or selection.matches(e, kafka.topic_prefix)]


async def read_replayed(kafka: KafkaSettings) -> dict[str, dict[str, Any]]:
    """What was replayed so far: entry ref -> its replay record."""
    replayed: dict[str, dict[str, Any]] = {}
    for record in await read_to_end(kafka, Topics(kafka).dlq_replays):
        if record.key is None:
            continue
        if record.value is None:
            replayed.pop(record.key.decode(), None)
        else:
            replayed[record.key.decode()] = orjson.loads(record.value)
    return replayed


def replay_target_problem(entry: DlqEntry, topics: Topics) -> str | None:
    """Why ``entry`` cannot go back (its headers are data: only this pipeline's topics are targets)."""
    if entry.topic is None:
        return "no elava_dlq_topic header: not an Elava dead letter"
    own = {name for name, _ in topics.all()} - {topics.dlq, topics.dlq_replays, topics.layout}
    if entry.topic not in own:
        return f"source topic {entry.topic!r} is not an input topic of this pipeline ({topics.prefix}.*)"
    return None


def plan(entries: list[DlqEntry], replayed: dict[str, Any], topics: Topics, again: bool) -> ReplayReport:
    """What a replay would send, skip and refuse; sends in original order per source partition."""
    report = ReplayReport()
    for entry in sorted(entries, key=lambda e: (e.topic or "", e.partition or 0, e.offset or 0, e.ref)):
        problem = replay_target_problem(entry, topics)
        if problem is not None:
            report.refused.append((entry, problem))
        elif entry.ref in replayed and not again:
            report.already.append(entry)
        else:
            report.replayed.append(entry)
    return report


async def replay(kafka: KafkaSettings, selection: Selection, *, again: bool = False,
                 dry_run: bool = False) -> ReplayReport:
    topics = Topics(kafka)
    report = plan(await read_entries(kafka, selection), await read_replayed(kafka), topics, again)
    if dry_run or not report.replayed:
        return report
    producer = new_producer(kafka)
    await producer.start()
    try:
        for entry in report.replayed:
            await _send_back(producer, entry, topics, utcnow())
    finally:
        await producer.stop()
    return report


async def _send_back(producer: Any, entry: DlqEntry, topics: Topics, now: datetime) -> None:
    landed = await producer.send_and_wait(entry.topic, value=entry.value, key=entry.key,
                                          headers=entry.replay_headers(topics.dlq, now))
    record = {"replayed_at": now.isoformat(), "topic": entry.topic, "partition": landed.partition,
              "offset": landed.offset, "reason": entry.reason}
    await producer.send_and_wait(topics.dlq_replays, key=entry.ref.encode(), value=orjson.dumps(record))
