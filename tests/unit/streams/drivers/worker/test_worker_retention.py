"""The worker runs retention between input messages, in bounded steps, on the partition's
own table store, and its deletions go to the changelog (no broker needed)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from elava.events import utcnow
from elava.parts import split
from elava.settings import load_settings
from elava.topics import Topics
from streams.drivers.worker import app as worker_app
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.faust_kv import ChangelogBatcher, FaustPartitionKV
from streams.drivers.worker.input_gaps import InputGaps
from streams.observe import Observer
from streams.store.evidence import EvidenceLog
from streams.store.retention import RetentionPacer
from streams.store.versioned import VersionStore, to_micros
from tests.unit.streams.drivers.worker.test_input_gaps import Reader
from tests.unit.streams.fixtures import marker, page, sg, shard


def test_the_pacer_runs_each_partition_at_most_once_per_interval():
    now = [100.0]
    pacer = RetentionPacer(every=5.0, clock=lambda: now[0])
    assert (pacer.due(0), pacer.due(0), pacer.due(1)) == (True, False, True)
    now[0] += 4.9
    assert pacer.due(0) is False
    now[0] += 0.2
    assert pacer.due(0) is True


async def test_a_message_of_a_partition_takes_a_retention_step_on_that_partition(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path), storage__retention="30d")
    app = worker_app.create_app(settings)
    table = app.tables["mvcc"]
    sends = BatchedSends(lambda: None)  # nothing is sent here: records wait in the batch
    worker = worker_app.Worker(settings, table, ChangelogBatcher(table, sends), None, None,
                               Topics(settings.kafka).cloudtrail, InputGaps(Reader([])))
    kv = FaustPartitionKV(table, 5, worker.changelog)
    long_ago = utcnow() - timedelta(days=40)
    observer = Observer(VersionStore(kv))
    observer.observe(page([sg("sg-gone")], long_ago, scan="old"))
    observer.close_scan(marker(shard(sg("sg-gone")), [], long_ago + timedelta(hours=1), scan="older"))
    EvidenceLog(kv).keep(sg("sg-gone").uid, to_micros(long_ago), "e1", b"{}")
    kv.flush()  # as the worker does when an input is handled
    sends._pending.clear()

    first_part = page([sg("sg-new")], utcnow(), scan="new")
    data, headers = split(first_part, first_part.to_bytes(), 100, "test", "new")[0]
    message = SimpleNamespace(topic=Topics(settings.kafka).observations, partition=5, offset=1,
                              key=first_part.shard.encode(), value=data, headers=headers)
    await worker_app.handle_message(message, worker)  # one part: nothing to publish, retention is due

    store = VersionStore(kv)
    assert store.head(sg("sg-gone").uid) is None
    assert list(EvidenceLog(kv).between(sg("sg-gone").uid, 0, to_micros(utcnow()))) == []
    deleted = {key for records in sends._pending.values() for key, value, _ in records if value is None}
    assert b"h\x00" + sg("sg-gone").uid.encode() in deleted  # the changelog forgets it too
    assert worker.retention.due(5) is False  # not again at once
