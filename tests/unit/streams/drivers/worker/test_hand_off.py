"""The worker's hand-off to aiokafka: the handler does not wait for the broker, records keep
their order per topic-partition, and the commit's flush waits for what was queued before it."""

import asyncio

from aiokafka.errors import ProducerClosed

from streams.drivers.worker.batch_send import BatchedSends
from tests.unit.streams.drivers.worker.test_batch_send import Partitions


class Gated(Partitions):
    """A producer whose n-th ``send_batch`` (from 1) returns only once ``open(n)`` is called,
    as aiokafka's returns only once the partition's previous batch has left."""

    def __init__(self, counts: dict[str, int], gated: set[int]) -> None:
        super().__init__(counts)
        self.calls = 0
        self.gates = {n: asyncio.Event() for n in gated}

    def open(self, call: int) -> None:
        self.gates[call].set()

    async def send_batch(self, batch, topic: str, partition: int):
        self.calls += 1
        gate = self.gates.get(self.calls)
        if gate is not None:
            await gate.wait()
        return await super().send_batch(batch, topic, partition)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_handler_goes_on_while_a_batch_waits_and_the_records_keep_their_order():
    producer = Gated({"changes": 2}, gated={1})
    sends = BatchedSends(lambda: producer)
    for n in range(3):
        sends.add("changes", 0, f"k{n}".encode(), b"v")
        sends.add("changes", 1, f"other{n}".encode(), b"v")
        await asyncio.wait_for(sends.flush(), 1)  # returns although the first batch is held
    await _settle()
    assert [key for _, partition, key in producer.sent if partition == 1] == [b"other0", b"other1", b"other2"]
    assert [key for _, partition, key in producer.sent if partition == 0] == []  # held behind the first

    producer.open(1)
    await asyncio.wait_for(sends.handed_over(), 1)
    assert [key for _, partition, key in producer.sent if partition == 0] == [b"k0", b"k1", b"k2"]
    # What queued behind a held batch leaves as one batch.
    assert [n for _, partition, n in producer.batches if partition == 0] == [1, 2]


async def test_the_commit_waits_for_what_was_queued_before_it_and_not_for_what_came_after():
    producer = Gated({"changes": 1}, gated={1, 2})
    sends = BatchedSends(lambda: producer)
    sends.add("changes", 0, b"before", b"v")
    await sends.flush()
    await _settle()
    commit = asyncio.create_task(sends.handed_over())
    await _settle()
    sends.add("changes", 0, b"after", b"v")
    await sends.flush()
    assert not commit.done()

    producer.open(1)  # "before" is taken; "after" now waits at the second gate
    await asyncio.wait_for(commit, 1)
    assert [key for _, _, key in producer.sent] == [b"before"]
    producer.open(2)
    await asyncio.wait_for(sends.handed_over(), 1)
    assert [key for _, _, key in producer.sent] == [b"before", b"after"]


async def test_the_handler_waits_once_too_many_records_are_queued(monkeypatch):
    from streams.drivers.worker import hand_off

    monkeypatch.setattr(hand_off, "MAX_QUEUED_RECORDS", 2)
    producer = Gated({"changes": 1}, gated={1})
    sends = BatchedSends(lambda: producer)
    sends.add("changes", 0, b"k0", b"v")
    await sends.flush()
    sends.add("changes", 0, b"k1", b"v")
    sends.add("changes", 0, b"k2", b"v")
    full = asyncio.create_task(sends.flush())
    await _settle()
    assert not full.done()  # three records wait, two may
    producer.open(1)
    await asyncio.wait_for(full, 1)
    await sends.handed_over()
    assert [key for _, _, key in producer.sent] == [b"k0", b"k1", b"k2"]


class Closed(Partitions):
    async def send_batch(self, batch, topic: str, partition: int):
        raise ProducerClosed()


async def test_records_the_closed_producer_will_never_take_stop_the_worker(monkeypatch, caplog):
    from streams.drivers.worker import restart

    exits = []
    monkeypatch.setattr(restart.os, "_exit", exits.append)
    sends = BatchedSends(lambda: Closed({"changes": 1}))
    sends.add("changes", 0, b"k", b"v")
    await sends.flush()
    await _settle()
    assert exits == [75]  # their input must not be committed: the restarted worker publishes them
    assert "the producer closed with 1 records for changes not handed over" in caplog.text


def test_a_caller_that_awaits_deliveries_gets_them_from_flush_without_a_hand_off():
    async def run():
        producer = Partitions({"decisions": 1})
        sends = BatchedSends(lambda: producer, stop_on_failure=False)
        sends.add("decisions", 0, b"k", b"v")
        deliveries = await sends.flush()
        return producer.sent, deliveries

    sent, deliveries = asyncio.run(run())
    assert sent == [("decisions", 0, b"k")] and len(deliveries) == 1

