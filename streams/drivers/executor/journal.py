"""The ledger on Kafka: the compacted ``executor-ledger`` topic, written ahead and read back.

A ledger record for an action goes to the ledger partition with the number of the
action's own partition. Whoever owns actions partition p reads ledger partition p
to its end when it gets p, and is the only writer of it while it keeps p.

Why not a Faust table: a table's changelog write is not awaited before the agent
goes on, so "recorded, then acted" could not be promised; here every write is
awaited until Kafka acknowledged it (acks=all, idempotent producer).
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from elava.exceptions import SchemaError
from elava.kafka.clients import new_consumer
from elava.settings import KafkaSettings
from streams.executor.ledger import Ledger, LedgerEntry

log = logging.getLogger(__name__)


class KafkaLedger:
    def __init__(self, producer: AIOKafkaProducer, kafka: KafkaSettings, topic: str) -> None:
        self._producer = producer
        self._kafka = kafka
        self.topic = topic

    async def write(self, entry: LedgerEntry, partition: int) -> None:
        """Returns once Kafka has the record: only then may the step it announces begin."""
        await self._producer.send_and_wait(self.topic, value=entry.to_bytes(), key=entry.action_id.encode(),
                                           partition=partition)

    async def load(self, partitions: set[int], ledger: Ledger) -> int:
        """Read ledger ``partitions`` from the beginning to their current end into ``ledger``."""
        if not partitions:
            return 0
        consumer = new_consumer(self._kafka)
        await consumer.start()
        try:
            parts = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = {tp: end for tp, end in (await consumer.end_offsets(parts)).items() if end}
            return await _read_until(consumer, ends, ledger)
        finally:
            await consumer.stop()


async def _read_until(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], ledger: Ledger) -> int:
    count = 0
    while ends:
        batch = await consumer.getmany(*ends, timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                count += _apply(record, ledger, tp.partition)
            if records and records[-1].offset + 1 >= ends[tp]:
                del ends[tp]
        for tp in [tp for tp in ends if await consumer.position(tp) >= ends[tp]]:
            del ends[tp]  # compaction may have removed the last records
    return count


def _apply(record, ledger: Ledger, partition: int) -> int:
    if record.value is None:
        return 0
    try:
        ledger.put(LedgerEntry.from_bytes(record.value), partition)
        return 1
    except SchemaError as exc:
        log.error("unreadable ledger record at %s@%s: %s", partition, record.offset, exc)
        return 0
