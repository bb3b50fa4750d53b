import asyncio

from aiokafka.partitioner import DefaultPartitioner

from streams.drivers.worker.batch_send import BatchedSends


class Partitions:
    """What BatchedSends asks of the producer before a flush: the topics' partitions."""

    def __init__(self, counts: dict[str, int], default: int | None = None) -> None:
        self.counts, self.default = counts, default

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.counts.get(topic, self.default) if self.default else self.counts[topic]))


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
