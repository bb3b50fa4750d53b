"""The loop the worker's per-change stages share (the policy stage, the drift stage): one topic
read in the stage's own consumer group; each poll's records handled as one batch whose outputs
are published and delivered before the poll's offsets are committed.

A crash redelivers what was not committed, and a redelivered change gives the same events under
the same ids (at-least-once with idempotent effects: deterministic ids, no Faust exactly_once).
What a batch yields goes to the producer as one record batch per topic-partition
(streams/drivers/worker/batch_send.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from elava.kafka.clients import STAGE_FETCH, new_consumer, new_producer, record_lag
from elava.settings import Settings
from elava.topics import Topics
from streams.dlq import dead_letter
from streams.drivers.worker.batch_send import BatchedSends

FETCH_WAIT_MS = 500
# Heartbeats run apart from the batches, so a dead stage is noticed within the session timeout.
# A batch on which a broken policy times out again and again can take long, though, and the
# group must not evict a stage that is still working through it (it would be redelivered forever).
MAX_POLL_INTERVAL_MS = 3_600_000
# Whole record batches per topic-partition: with aiokafka's 16 KiB default, each full batch waits
# for the one before it to leave (one batch per partition in the accumulator).
PRODUCER_BATCH_BYTES = 1024 * 1024


class CommittingStage:
    """Subclasses say what they read (``topic``), as whom (``group``, ``source``), and ``handle`` a batch."""

    batch_records = 500
    source = "elava/stage"

    def __init__(self, settings: Settings, group: str, log: logging.Logger) -> None:
        self.settings, self.group, self.log = settings, group, log
        self.topics = Topics(settings.kafka)
        self.producer: AIOKafkaProducer | None = None
        self.sends = BatchedSends(lambda: self.producer, stop_on_failure=False)  # deliveries awaited here
        self.consumer: AIOKafkaConsumer | None = None

    @property
    def topic(self) -> str:
        return self.topics.attributed_changes

    async def prepare(self) -> None:
        """What must work before the stage says it is ready (the policies load)."""

    async def close(self) -> None:
        """What the stage holds besides its clients."""

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        raise NotImplementedError

    async def run(self, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
        await self.prepare()
        if ready is not None:
            ready()
        self.producer = new_producer(self.settings.kafka,
                                     max_batch_size=max(PRODUCER_BATCH_BYTES, self.settings.kafka.max_message_bytes))
        self.consumer = self.new_consumer()
        try:
            await self.producer.start()
            self.consumer.subscribe([self.topic])
            await self.consumer.start()
            self.log.info("%s: reading %s (group %s)", self.source, self.topic, self.group)
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=self.batch_records)
                if batch:
                    await self.handle(batch)
                    await self._commit(batch)
                    record_lag(self.consumer, self.group, batch)
        finally:
            await self._shutdown()

    def new_consumer(self) -> AIOKafkaConsumer:
        return new_consumer(self.settings.kafka, group_id=self.group, auto_offset_reset="earliest",
                            max_poll_interval_ms=MAX_POLL_INTERVAL_MS, **STAGE_FETCH)

    async def _commit(self, batch: dict[TopicPartition, list[Any]]) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Another stage took the partitions over: it handles them again, under the same ids.
            self.log.warning("offset commit failed (%s); these changes will be handled again", exc)

    async def _dead_letter(self, record: Any, reason: str) -> None:
        self.log.warning("dead letter from %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)

        async def send(key: bytes | None, value: bytes | None, headers: list) -> None:
            # Delivered with the batch's other records, before the commit.
            await self.sends.add_keyed(self.topics.dlq, key, value, headers)

        await dead_letter(send, record, reason, by=self.source)

    async def _shutdown(self) -> None:
        for client in (self.consumer, self.producer):
            if client is None:
                continue
            try:
                await client.stop()
            except Exception as exc:  # noqa: BLE001 - shut the rest down regardless
                self.log.warning("during shutdown: %s", exc)
        await self.close()
