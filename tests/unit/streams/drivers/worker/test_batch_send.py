import asyncio

import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.drivers.worker.batch_send import BatchedSends


class Partitions:
    """What BatchedSends asks of aiokafka's producer: the topics' partitions, and batches it
    keeps (``sent``: topic, partition, key) as if the broker had taken them."""

    def __init__(self, counts: dict[str, int], default: int | None = None) -> None:
        self.counts, self.default = counts, default
        self.sent: list[tuple[str, int, bytes | None]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.counts.get(topic, self.default) if self.default else self.counts[topic]))

    def create_batch(self) -> list:
        return Batch()

    async def send_batch(self, batch, topic: str, partition: int):
        self.sent.extend((topic, partition, key) for key in batch)
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class Batch(list):
    def append(self, timestamp, key, value, headers):  # aiokafka's signature; None would mean "full"
        super().append(key)
        return True


def test_keyed_records_land_where_kafkas_default_partitioner_puts_them():
    sends = BatchedSends(lambda: Partitions({"changes": 8, "drift": 3}))
    keys = [f"arn:aws:ec2:eu-west-1:1:instance/i-{n}".encode() for n in range(300)]

    async def add_all():
        for key in keys:
            await sends.add_keyed("changes", key, b"v", ())
            await sends.add_keyed("drift", key, b"v", ())  # same key, another partition count
        await sends.add_keyed("drift", None, b"dead letter without a key", ())

    asyncio.run(add_all())
    placed = {(topic, key): partition for (topic, partition), records in sends._pending.items()
              for key, _, _ in records}
    for key in keys:
        for topic, count in (("changes", 8), ("drift", 3)):
            assert placed[(topic, key)] == DefaultPartitioner()(key, list(range(count)), list(range(count)))
    assert placed[("drift", None)] in range(3)


class Undelivered(Partitions):
    """A producer whose batches the broker never takes (their delivery fails after the send)."""

    async def send_batch(self, batch, topic: str, partition: int):
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_exception(ConnectionError("no leader"))
        return delivery


async def test_a_batch_the_broker_did_not_take_stops_the_worker_before_its_input_is_committed(monkeypatch, caplog):
    from streams.drivers.worker import restart

    exits = []
    monkeypatch.setattr(restart.os, "_exit", exits.append)
    sends = BatchedSends(lambda: Undelivered({"changes": 2}))
    sends.add("changes", 0, b"k", b"v")
    await sends.flush()
    await asyncio.sleep(0)  # the delivery's callbacks run
    assert exits == [75]
    assert "a batch for changes was not delivered (ConnectionError('no leader'))" in caplog.text


async def test_a_caller_that_awaits_the_deliveries_is_told_of_a_refused_batch_instead(monkeypatch):
    from streams.drivers.worker import restart

    exits = []
    monkeypatch.setattr(restart.os, "_exit", exits.append)
    sends = BatchedSends(lambda: Undelivered({"decisions": 2}), stop_on_failure=False)
    sends.add("decisions", 0, b"k", b"v")
    sends.add("decisions", 1, b"k2", b"v")
    deliveries = await sends.flush()
    assert len(deliveries) == 2
    with pytest.raises(ConnectionError, match="no leader"):
        await asyncio.gather(*deliveries)
    assert exits == []
    assert await sends.flush() == []  # nothing left over to send twice
