"""No input message skipped: the worker applies a partition's messages in offset order, none left out.

Faust can hand the agent a message past one it never delivered, and commit past it:
after a rebalance or a restart it may skip messages prefetched for an older generation
and count them as done (faust-streaming#216, #221, #312, #606). A skipped page is
changes lost for good, so the worker does not rely on it: each partition's store keeps
the offset of the last message applied from each input topic-partition (written with
what the message changed, so it travels in the changelog too), and a message further
on than the next one first has the missing ones read from the topic and applied, in
order. A message at or before the recorded offset is a redelivery, which the core
replays safely.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from elava.kafka.topic_read import batches_between
from elava.settings import KafkaSettings
from streams.store.keyspaces import input_offset_key
from streams.store.kv import KV

log = logging.getLogger("elava.worker")
Batches = Callable[[str, int, int, int], AsyncIterator[list[Any]]]


class InputGaps:
    def __init__(self, batches: Batches) -> None:
        self._batches = batches

    @classmethod
    def on(cls, kafka: KafkaSettings) -> InputGaps:
        return cls(lambda topic, partition, start, end: batches_between(kafka, topic, partition, start, end))

    async def missed_before(self, message: Any, last: int | None) -> AsyncIterator[Any]:
        """The messages of ``message``'s partition after ``last`` (the last one applied) and before
        it, in order, read a fetch at a time (a gap may be a whole backlog)."""
        if last is None or message.offset <= last + 1:
            return
        log.warning("%s[%d]: offsets %d..%d were not delivered to the worker; reading them from the topic and "
                    "applying them first", message.topic, message.partition, last + 1, message.offset - 1)
        read = 0
        async for batch in self._batches(message.topic, message.partition, last + 1, message.offset):
            for record in batch:
                read += 1
                yield record
        log.warning("%s[%d]: %d of offsets %d..%d read from the topic and applied", message.topic,
                    message.partition, read, last + 1, message.offset - 1)


def applied(kv: KV, topic: str, partition: int) -> int | None:
    data = kv.get(input_offset_key(topic, partition))
    return int(data) if data is not None else None


def record_applied(kv: KV, message: Any) -> None:
    """After a message is applied (or dead-lettered): where the next one must follow on. The
    caller records only a message past the last one applied (a redelivery moves nothing back)."""
    kv.put(input_offset_key(message.topic, message.partition), str(message.offset).encode())
