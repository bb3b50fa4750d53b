"""A DLQ copy is the original message, every header kept, with why and where from after them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from elava.settings import KafkaSettings
from elava.topics import Topics
from streams.dlq import DlqEntry, Selection, dead_letter
from streams.dlq.letters import REPLAY_OF, REPLAYED_AT
from streams.drivers.dlq_replay import plan

ORIGINAL = [("ce_specversion", b"1.0"), ("ce_id", b"abc"), ("ce_type", b"elava.observation"),
            ("traceparent", b"00-1-2-01"), ("ce_type", b"a repeated header stays too")]


@dataclass
class Record:
    topic: str = "elava.observations"
    partition: int = 3
    offset: int = 41
    key: bytes | None = b"111/eu-west-1/ec2.instance/7"
    value: bytes | None = b'{"not": "a page"}'
    headers: list = field(default_factory=lambda: list(ORIGINAL))
    timestamp: int = 0


async def letter_of(record, reason: str = "bad page") -> tuple[bytes | None, bytes | None, list]:
    sent = []

    async def send(key, value, headers):
        sent.append((key, value, headers))

    await dead_letter(send, record, reason, by="elava/worker")
    (letter,) = sent
    return letter


def dlq_record(letter, partition: int = 0, offset: int = 5) -> Record:
    key, value, headers = letter
    return Record(topic="elava.dlq", partition=partition, offset=offset, key=key, value=value, headers=headers)


async def test_the_copy_keeps_key_value_and_every_header_in_order():
    key, value, headers = await letter_of(Record())
    assert (key, value) == (Record().key, Record().value)
    assert headers[:len(ORIGINAL)] == ORIGINAL
    ours = dict(headers[len(ORIGINAL):])
    assert ours["elava_dlq_reason"] == b"bad page"
    assert (ours["elava_dlq_topic"], ours["elava_dlq_partition"], ours["elava_dlq_offset"]) == (
        b"elava.observations", b"3", b"41")
    assert ours["elava_dlq_by"] == b"elava/worker" and datetime.fromisoformat(ours["elava_dlq_time"].decode())


async def test_headers_given_as_a_mapping_are_kept_too():
    _, _, headers = await letter_of(Record(headers={"ce_type": b"elava.action", "x": "text"}))
    assert headers[:2] == [("ce_type", b"elava.action"), ("x", b"text")]


async def test_an_entry_reads_back_as_the_original_message_and_its_origin():
    entry = DlqEntry.from_record(dlq_record(await letter_of(Record())))
    assert entry.headers == ORIGINAL
    assert (entry.topic, entry.partition, entry.offset, entry.reason) == ("elava.observations", 3, 41, "bad page")
    assert entry.ref == "0/5" and entry.by == "elava/worker" and entry.replay_of is None


async def test_an_original_that_forged_dlq_headers_keeps_them_as_original():
    forged = [*ORIGINAL, ("elava_dlq_reason", b"forged"), ("elava_dlq_topic", b"elsewhere")]
    entry = DlqEntry.from_record(dlq_record(await letter_of(Record(headers=forged), reason="real")))
    assert entry.headers == forged and (entry.reason, entry.topic) == ("real", "elava.observations")


async def test_a_replay_restores_the_original_headers_and_says_where_it_came_from():
    entry = DlqEntry.from_record(dlq_record(await letter_of(Record())))
    now = datetime(2026, 11, 2, tzinfo=UTC)
    replayed = entry.replay_headers("elava.dlq", now)
    assert replayed[:len(ORIGINAL)] == ORIGINAL
    assert dict(replayed[len(ORIGINAL):]) == {REPLAY_OF: b"elava.dlq/0/5", REPLAYED_AT: now.isoformat().encode()}

    # It fails again: the new entry knows it was a replay, and a second replay carries one mark only.
    again = DlqEntry.from_record(dlq_record(await letter_of(Record(headers=replayed)), offset=9))
    assert again.replay_of == "elava.dlq/0/5"
    second = again.replay_headers("elava.dlq", now)
    assert [name for name, _ in second].count(REPLAY_OF) == 1 and (REPLAY_OF, b"elava.dlq/0/9") in second


async def test_selection_by_reason_time_and_source_topic():
    entry = DlqEntry.from_record(dlq_record(await letter_of(Record(), reason="shard layout mismatch: x")))
    assert Selection(reason="LAYOUT").matches(entry, "elava")
    assert not Selection(reason="schema").matches(entry, "elava")
    assert Selection(topic="observations").matches(entry, "elava")
    assert Selection(topic="elava.observations").matches(entry, "elava")
    assert not Selection(topic="actions").matches(entry, "elava")
    assert Selection(since=datetime(2020, 1, 1, tzinfo=UTC)).matches(entry, "elava")
    assert not Selection(since=datetime(2999, 1, 1, tzinfo=UTC)).matches(entry, "elava")


async def test_a_replay_plan_keeps_source_order_skips_what_went_and_refuses_foreign_topics():
    topics = Topics(KafkaSettings())
    marker = DlqEntry.from_record(dlq_record(await letter_of(Record(offset=50)), partition=0, offset=1))
    page = DlqEntry.from_record(dlq_record(await letter_of(Record(offset=49)), partition=1, offset=0))
    done = DlqEntry.from_record(dlq_record(await letter_of(Record(offset=10)), partition=0, offset=0))
    foreign = DlqEntry.from_record(dlq_record(await letter_of(Record(topic="payments")), partition=0, offset=2))
    report = plan([marker, page, done, foreign], {"0/0": {}}, topics, again=False)
    assert [e.ref for e in report.replayed] == ["1/0", "0/1"]  # the page (source offset 49) first
    assert [e.ref for e in report.already] == ["0/0"]
    assert [(e.ref, "not an input topic" in why) for e, why in report.refused] == [("0/2", True)]
    assert [e.ref for e in plan([done], {"0/0": {}}, topics, again=True).replayed] == ["0/0"]
