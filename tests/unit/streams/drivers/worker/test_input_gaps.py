"""A message Faust never delivered is read from the topic and handled before the one after it:
applied if the store never applied it, replayed (its changes published again) if it did."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from elava.events import cloudevent_headers
from elava.settings import load_settings
from elava.topics import Topics
from streams.drivers.worker import app as worker_app
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.faust_kv import ChangelogBatcher, FaustPartitionKV
from streams.drivers.worker.input_gaps import InputGaps, applied, record_applied
from streams.drivers.worker.sinks import WorkerSinks
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.drivers.worker.test_batch_send import Partitions
from tests.unit.streams.fixtures import T0, page, sg

TOPIC = "elava.observations"


def message(offset: int, partition: int = 0, topic: str = TOPIC, value: bytes = b"{}", key: bytes = b"k"):
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, key=key, value=value, headers=[])


class Reader:
    """Batches as the topic would give them, two records a fetch."""

    def __init__(self, records: list) -> None:
        self.records, self.asked = records, []

    async def __call__(self, topic, partition, start, end):
        self.asked.append((topic, partition, start, end))
        found = [r for r in self.records if r.topic == topic and r.partition == partition and start <= r.offset < end]
        for first in range(0, len(found), 2):
            yield found[first:first + 2]


async def missed(gaps: InputGaps, kv, message) -> list:
    last = applied(kv, message.topic, message.partition)
    return [record async for record in gaps.missed_before(message, last)]


class Commits:
    """The group's committed offsets, as the broker would answer; counts the questions."""

    def __init__(self, offsets: dict) -> None:
        self.offsets, self.asked = offsets, 0

    async def __call__(self, topic, partition):
        self.asked += 1
        return self.offsets.get((topic, partition))


async def test_only_a_message_past_the_next_one_reads_what_was_left_out():
    kv, reader = MemoryKV(), Reader([message(n) for n in range(10)] + [message(n, partition=1) for n in range(3)])
    gaps = InputGaps(reader, Commits({(TOPIC, 0): 6}))
    record_applied(kv, message(5))
    assert await missed(gaps, kv, message(6)) == []
    assert await missed(gaps, kv, message(3)) == []  # a redelivery
    assert [m.offset for m in await missed(gaps, kv, message(9))] == [6, 7, 8]
    assert reader.asked == [(TOPIC, 0, 6, 9)]
    assert await missed(gaps, kv, message(0, partition=1)) == []  # each partition on its own


async def test_a_new_group_goes_on_from_the_partitions_beginning():
    # Nothing committed, nothing applied: Faust reads from the earliest offset, so a first
    # message further on means it left out what came before (its commit would pass them).
    kv, reader = MemoryKV(), Reader([message(n) for n in range(10)])
    gaps = InputGaps(reader)
    assert [m.offset for m in await missed(gaps, kv, message(3))] == [0, 1, 2]
    assert reader.asked == [(TOPIC, 0, 0, 3)]
    assert await missed(gaps, kv, message(0, partition=2)) == []
    # Applied up to 4 by a worker killed before it committed anything: from the beginning too.
    record_applied(kv, message(4, partition=3))
    reader.records = [message(n, partition=3) for n in range(10)]
    assert [m.offset for m in await missed(gaps, kv, message(6, partition=3))] == [0, 1, 2, 3, 4, 5]


async def test_after_an_assignment_a_partition_goes_on_from_its_groups_commit():
    # The store applied up to 5, the group committed 4: offset 4 was applied, maybe not published.
    kv, reader, commits = MemoryKV(), Reader([message(n) for n in range(10)]), Commits({(TOPIC, 0): 4})
    gaps = InputGaps(reader, commits)
    record_applied(kv, message(5))
    assert [m.offset for m in await missed(gaps, kv, message(5))] == [4]  # Faust left out its commit
    gaps.handled(message(5))
    assert await missed(gaps, kv, message(6)) == []  # then on from what this worker handled
    record_applied(kv, message(6))
    gaps.handled(message(6))
    assert [m.offset for m in await missed(gaps, kv, message(9))] == [7, 8]
    assert commits.asked == 1
    gaps.reassigned()  # another worker applied 7 and 8 meanwhile and committed 7: its group's commit again
    record_applied(kv, message(8))
    commits.offsets[(TOPIC, 0)] = 8
    assert [m.offset for m in await missed(gaps, kv, message(9))] == [8]
    assert commits.asked == 2


async def test_a_redelivered_message_never_moves_the_recorded_offset_back(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    app = worker_app.create_app(settings)
    table, topics = app.tables["mvcc"], Topics(settings.kafka)
    sends = BatchedSends(lambda: Partitions({}, default=settings.kafka.partitions))
    worker = worker_app.Worker(settings, table, ChangelogBatcher(table, sends), WorkerSinks.on(topics, sends, "test"),
                               None, topics.cloudtrail, InputGaps(Reader([])))
    kv = FaustPartitionKV(table, 0, worker.changelog)
    for offset in (5, 2):  # the second is a redelivery (dead-lettered here: not a valid page)
        await worker_app.handle_message(message(offset, topic=topics.observations), worker)
    await worker_app.handle_message(message(1, topic=topics.cloudtrail), worker)
    assert (applied(kv, topics.observations, 0), applied(kv, topics.cloudtrail, 0),
            applied(kv, topics.observations, 1)) == (5, 1, None)


def _page_message(offset: int, resource_id: str, scan: str):
    observed = page([sg(resource_id)], T0 + timedelta(hours=offset), scan=scan)
    return message(offset, topic=TOPIC, key=observed.shard.encode(), value=observed.to_bytes(),
                   partition=2).__dict__ | {"headers": cloudevent_headers(observed, "test")}


async def test_the_worker_applies_the_pages_it_was_not_given_before_the_next(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    app = worker_app.create_app(settings)
    table, topics = app.tables["mvcc"], Topics(settings.kafka)
    producer = Partitions({}, default=settings.kafka.partitions)
    sends = BatchedSends(lambda: producer)
    pages = [SimpleNamespace(**_page_message(n, f"sg-{n}", f"scan-{n}")) for n in range(4)]
    for each in pages:
        each.topic = topics.observations
    reader = Reader(pages)
    worker = worker_app.Worker(settings, table, ChangelogBatcher(table, sends), WorkerSinks.on(topics, sends, "test"),
                               None, topics.cloudtrail, InputGaps(reader))
    worker.layout = SimpleNamespace(refusal=_no_refusal)

    await worker_app.handle_message(pages[0], worker)
    await worker_app.handle_message(pages[3], worker)  # Faust skipped offsets 1 and 2

    store = VersionStore(FaustPartitionKV(table, 2, worker.changelog))
    assert [store.head(sg(f"sg-{n}").uid) is not None for n in range(4)] == [True, True, True, True]
    assert reader.asked == [(topics.observations, 2, 1, 3)]
    await sends.flush()
    changes = [key for topic, _, key in producer.sent if topic == topics.changes]
    assert changes[:3] == [sg(f"sg-{n}").uid.encode() for n in range(3)]  # the missed ones sent as applied
    assert sorted(changes) == sorted(sg(f"sg-{n}").uid.encode() for n in range(4))


async def test_a_page_stored_but_not_published_before_a_crash_is_published_when_faust_skips_it(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    app = worker_app.create_app(settings)
    table, topics = app.tables["mvcc"], Topics(settings.kafka)
    pages = [SimpleNamespace(**_page_message(n, f"sg-{n}", f"scan-{n}")) for n in range(2)]
    for each in pages:
        each.topic = topics.observations

    def worker_sending_to(producer, gaps):
        sends = BatchedSends(lambda: producer)
        worker = worker_app.Worker(settings, table, ChangelogBatcher(table, sends),
                                   WorkerSinks.on(topics, sends, "test"), None, topics.cloudtrail, gaps)
        worker.layout = SimpleNamespace(refusal=_no_refusal)
        return worker, sends

    # Killed: what its producer held (page 0's change events) never reached the broker.
    killed, _ = worker_sending_to(Partitions({}, default=settings.kafka.partitions), InputGaps(Reader([])))
    await worker_app.handle_message(pages[0], killed)
    producer = Partitions({}, default=settings.kafka.partitions)
    # Restarted: the group committed nothing past page 0, and Faust hands over page 1 first.
    restarted, sends = worker_sending_to(producer, InputGaps(Reader(pages), Commits({(topics.observations, 2): 0})))
    await worker_app.handle_message(pages[1], restarted)
    await sends.flush()
    changes = [key for topic, _, key in producer.sent if topic == topics.changes]
    assert changes == [sg("sg-0").uid.encode(), sg("sg-1").uid.encode()]
    kv = FaustPartitionKV(table, 2, restarted.changelog)
    assert applied(kv, topics.observations, 2) == 1


async def _no_refusal(*args):
    return None
