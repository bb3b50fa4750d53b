"""No input message skipped: the worker handles a partition's messages in offset order, none left out.

Faust can hand the agent a message past one it never delivered, and commit past it:
after a rebalance or a restart it may skip messages prefetched for an older generation
(faust-streaming#216, #221, #312), and its commit passes over one message left out right
at the group's committed offset once the next one is acknowledged (#606). A skipped page
is changes lost for good, so the worker does not rely on it.

Where a partition must go on from is, after each assignment, the offset its group
committed (what a crashed worker stored but may not have published starts there), or
the partition's beginning for a group that committed nothing there yet; then the offset
after the last message this worker handled. A message further on first has
the missing ones read from the topic and handled, in order. Each partition's store also
keeps the offset of the last message applied from each input topic-partition (written
with what the message changed, so it travels in the changelog too): a message after it
is applied, one at or before it is a replay, which re-emits the changes it made (the
core's replay) and writes nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from elava.kafka.group_offsets import GroupOffsets
from elava.kafka.topic_read import batches_between
from elava.settings import KafkaSettings
from streams.store.keyspaces import input_offset_key
from streams.store.kv import KV

log = logging.getLogger("elava.worker")
Batches = Callable[[str, int, int, int], AsyncIterator[list[Any]]]
Committed = Callable[[str, int], Awaitable[int | None]]  # (topic, partition) -> the group's next offset


async def _nothing_committed(topic: str, partition: int) -> None:
    return None


class InputGaps:
    def __init__(self, batches: Batches, committed: Committed = _nothing_committed) -> None:
        self._batches = batches
        self._committed = committed
        self._next: dict[tuple[str, int], int] = {}  # after the last message handled here, per partition

    @classmethod
    def on(cls, kafka: KafkaSettings, offsets: GroupOffsets) -> InputGaps:
        return cls(lambda topic, partition, start, end: batches_between(kafka, topic, partition, start, end),
                   offsets.committed_one)

    def reassigned(self) -> None:
        """After a rebalance another worker may have handled a partition: start from its commit again."""
        self._next.clear()

    def handled(self, message: Any) -> None:
        self._next[(message.topic, message.partition)] = message.offset + 1

    async def missed_before(self, message: Any, last: int | None) -> AsyncIterator[Any]:
        """The messages of ``message``'s partition from where it must go on (see the module) up to
        it, in order, read a fetch at a time (a gap may be a whole backlog). ``last``: the last
        offset the partition's store applied."""
        start = await self._start(message, last)
        if message.offset <= start:
            return
        log.warning("%s[%d]: offsets %d..%d were not delivered to the worker; reading them from the topic and "
                    "handling them first", message.topic, message.partition, start, message.offset - 1)
        read = 0
        async for batch in self._batches(message.topic, message.partition, start, message.offset):
            for record in batch:
                read += 1
                yield record
        log.warning("%s[%d]: %d of offsets %d..%d read from the topic and handled", message.topic,
                    message.partition, read, start, message.offset - 1)

    async def _start(self, message: Any, last: int | None) -> int:
        start = self._next.get((message.topic, message.partition))
        if start is None:  # the first message since an assignment
            committed = await self._committed(message.topic, message.partition)
            # Nothing committed: the group reads from the partition's beginning (the worker's
            # offset reset is "earliest"); the topic read starts there from offset 0.
            start = 0 if committed is None else committed
        return start if last is None else min(start, last + 1)


def applied(kv: KV, topic: str, partition: int) -> int | None:
    data = kv.get(input_offset_key(topic, partition))
    return int(data) if data is not None else None


def record_applied(kv: KV, message: Any) -> None:
    """After a message is applied (or dead-lettered): where the next one must follow on. The
    caller records only a message past the last one applied (a redelivery moves nothing back)."""
    kv.put(input_offset_key(message.topic, message.partition), str(message.offset).encode())

