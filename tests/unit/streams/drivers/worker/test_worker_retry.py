"""An input message the worker could not handle is tried again, and a batch the producer did not accept is
offered again: neither is left behind."""

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
    """A producer that fails its first ``refusals`` calls of ``method``: ``partitions_for``
    (no metadata: the handling fails) or ``send_batch`` (the batch is not accepted)."""

    def __init__(self, refusals: int, method: str, **kwargs) -> None:
        super().__init__({}, **kwargs)
        self.refusals, self.method = refusals, method

    def _refuse(self, method: str) -> None:
        if method == self.method and self.refusals:
            self.refusals -= 1
            raise ConnectionError("broker went away")

    async def partitions_for(self, topic: str) -> set[int]:
        self._refuse("partitions_for")
        return await super().partitions_for(topic)

    async def send_batch(self, batch, topic: str, partition: int):
        self._refuse("send_batch")
        return await super().send_batch(batch, topic, partition)


def _worker(settings, producer) -> worker_app.Worker:
    app = worker_app.create_app(settings)
    table, topics = app.tables["mvcc"], Topics(settings.kafka)
    sends = BatchedSends(lambda: producer)
    return worker_app.Worker(settings, table, ChangelogBatcher(table, sends), WorkerSinks.on(topics, sends, "test"),
                             SimpleNamespace(refusal=_no_refusal), topics.cloudtrail, InputGaps(Reader([])))


def _page(topics: Topics) -> SimpleNamespace:
    page = SimpleNamespace(**_page_message(0, "sg-1", "scan-0"))
    page.topic = topics.observations
    return page


async def test_a_message_whose_handling_failed_is_handled_again_until_its_changes_are_out(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    producer = RefusingFirst(2, "partitions_for", default=settings.kafka.partitions)
    worker, topics = _worker(settings, producer), Topics(settings.kafka)
    page = _page(topics)

    await worker_app.handle_until_done(page, worker, first_wait=0.01)
    await worker.changelog.sends.handed_over()

    kv = FaustPartitionKV(worker.table, page.partition, worker.changelog)
    assert VersionStore(kv).head(sg("sg-1").uid) is not None
    assert applied(kv, topics.observations, page.partition) == 0
    assert producer.refusals == 0
    changes = [key for topic, _, key in producer.sent if topic == topics.changes]
    assert changes == [sg("sg-1").uid.encode()]  # published once it was handled: the retry replayed it


async def test_a_batch_the_producer_did_not_accept_is_offered_again_before_the_commit(tmp_path, monkeypatch):
    from streams.drivers.worker import hand_off

    monkeypatch.setattr(hand_off, "FIRST_RETRY_WAIT_S", 0.01)
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    producer = RefusingFirst(2, "send_batch", default=settings.kafka.partitions)
    worker, topics = _worker(settings, producer), Topics(settings.kafka)

    await worker_app.handle_until_done(_page(topics), worker, first_wait=0.01)  # handled once, nothing raised
    assert producer.sent == []  # the handler did not wait for the refused batches
    await worker.changelog.sends.handed_over()  # what the commit's producer flush waits for

    assert producer.refusals == 0
    changes = [key for topic, _, key in producer.sent if topic == topics.changes]
    assert changes == [sg("sg-1").uid.encode()]
    changelog = [key for topic, _, key in producer.sent if topic == "elava-worker-mvcc-changelog"]
    assert len(changelog) == len(set(changelog)) > 0  # every record once, none lost to the refusals


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
    await sends.handed_over()
    await asyncio.sleep(0)
    assert exits == [75]  # else the input is committed with the changelog short of what the store holds
    assert "mvcc-changelog was not delivered" in caplog.text
