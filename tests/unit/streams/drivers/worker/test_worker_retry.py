"""An input message the worker could not handle (the broker refused a send) is tried again, not left behind."""

from __future__ import annotations

from types import SimpleNamespace

from elava.settings import load_settings
from elava.topics import Topics
from streams.drivers.worker import app as worker_app
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.faust_kv import ChangelogBatcher, FaustPartitionKV
from streams.drivers.worker.input_gaps import InputGaps, applied
from streams.drivers.worker.sinks import WorkerSinks
from streams.store.versioned import VersionStore
from tests.unit.streams.drivers.worker.test_batch_send import Partitions
from tests.unit.streams.drivers.worker.test_input_gaps import Reader, _no_refusal, _page_message
from tests.unit.streams.fixtures import sg


class RefusingFirst(Partitions):
    """A producer whose first ``refusals`` batches the broker does not take."""

    def __init__(self, refusals: int, **kwargs) -> None:
        super().__init__({}, **kwargs)
        self.refusals = refusals

    async def send_batch(self, batch, topic: str, partition: int):
        if self.refusals:
            self.refusals -= 1
            raise ConnectionError("broker went away")
        return await super().send_batch(batch, topic, partition)


async def test_a_message_whose_sends_failed_is_handled_again_until_its_changes_are_out(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    app = worker_app.create_app(settings)
    table, topics = app.tables["mvcc"], Topics(settings.kafka)
    producer = RefusingFirst(2, default=settings.kafka.partitions)
    sends = BatchedSends(lambda: producer)
    worker = worker_app.Worker(settings, table, ChangelogBatcher(table, sends), WorkerSinks.on(topics, sends, "test"),
                               SimpleNamespace(refusal=_no_refusal), topics.cloudtrail, InputGaps(Reader([])))
    page = SimpleNamespace(**_page_message(0, "sg-1", "scan-0"))
    page.topic = topics.observations

    await worker_app.handle_until_done(page, worker, first_wait=0.01)

    kv = FaustPartitionKV(table, page.partition, worker.changelog)
    assert VersionStore(kv).head(sg("sg-1").uid) is not None
    assert applied(kv, topics.observations, page.partition) == 0
    assert producer.refusals == 0
    changes = [key for topic, _, key in producer.sent if topic == topics.changes]
    assert changes == [sg("sg-1").uid.encode()]  # published once it was taken: the retry replayed it


async def test_a_changelog_batch_the_broker_did_not_take_stops_the_worker(tmp_path, monkeypatch, caplog):
    import asyncio

    from streams.drivers.worker import restart
    from tests.unit.streams.drivers.worker.test_batch_send import Undelivered

    exits = []
    monkeypatch.setattr(restart.os, "_exit", exits.append)
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    table = worker_app.create_app(settings).tables["mvcc"]
    sends = BatchedSends(lambda: Undelivered({}, default=settings.kafka.partitions))
    ChangelogBatcher(table, sends).add(0, b"k", b"v")
    await sends.flush()
    await asyncio.sleep(0)
    assert exits == [75]  # else the input is committed with the changelog short of what the store holds
    assert "mvcc-changelog was not delivered" in caplog.text
