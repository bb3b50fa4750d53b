"""Records handed to aiokafka as one batch per topic-partition, once per input message.

aiokafka's ``send`` costs a future, a partitioner call and an accumulator append per
record, and Faust's wraps that in more; a new resource makes two or three output
events and two changelog records. Collected while one input message is handled and
appended as whole batches, they cost a fraction of that (see docs/benchmarks.md).
Delivery is awaited where Faust awaits it: it flushes the producer before committing
the input, so nothing handed over here is lost by a commit.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

from elava.kafka.partitioning import partition_of
from streams.drivers.worker.restart import exit_for_restart

log = logging.getLogger("elava.worker")
Record = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]
Delivered = Callable[[int, int, Any], None]  # (partition, records, delivery future)


class BatchedSends:
    """``stop_on_failure``: a batch the broker did not take ends the process (the worker, where
    Faust commits once the producer is flushed); False for a caller that awaits the deliveries
    ``flush`` returns before it commits (the policy stage)."""

    def __init__(self, producer_of: Callable[[], Any], stop_on_failure: bool = True) -> None:
        self._producer_of = producer_of  # the aiokafka producer exists only once the app runs
        self._stop_on_failure = stop_on_failure
        self._pending: dict[tuple[str, int], list[Record]] = {}
        self._partitions: dict[str, list[int]] = {}
        self._callbacks: dict[str, Delivered] = {}
        # A change's events (change, attribution, drift, OCSF copy) share its key: hashed once
        # per input message (topics of one count only; the memo is cleared at each flush).
        self._hashed: dict[tuple[bytes, int], int] = {}

    def on_delivered(self, topic: str, callback: Delivered) -> None:
        self._callbacks[topic] = callback

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
            headers: Sequence[tuple[str, bytes]] = ()) -> None:
        self._pending.setdefault((topic, partition), []).append((key, value, headers))

    async def add_keyed(self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> None:
        """Partitioned by key exactly as aiokafka's default partitioner (murmur2) would."""
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await self._producer_of().partitions_for(topic))
        if key is None:  # e.g. the dead letter of a message that had none: any partition, as aiokafka does
            self.add(topic, random.choice(partitions), key, value, headers)
            return
        memo = (key, len(partitions))
        partition = self._hashed.get(memo)
        if partition is None:
            partition = self._hashed[memo] = partition_of(key, partitions)
        self.add(topic, partition, key, value, headers)

    async def flush(self) -> list[Any]:
        """Hand what was added to the producer, a batch per topic-partition; their delivery futures."""
        self._hashed.clear()
        if not self._pending:
            return []
        producer = self._producer_of()
        pending, self._pending = self._pending, {}
        deliveries: list[Any] = []
        for (topic, partition), records in pending.items():
            await self._send(producer, topic, partition, records, deliveries)
        return deliveries

    async def _send(self, producer: Any, topic: str, partition: int, records: list[Record],
                    deliveries: list[Any]) -> None:
        start = 0
        while start < len(records):
            batch, end = producer.create_batch(), start
            while end < len(records) and batch.append(timestamp=None, key=records[end][0], value=records[end][1],
                                                      headers=list(records[end][2])) is not None:
                end += 1
            if end == start:
                raise ValueError(f"a record of {len(records[start][1] or b'')} bytes for {topic} "
                                 "does not fit in one producer batch")
            delivery = await producer.send_batch(batch, topic, partition=partition)
            deliveries.append(delivery)
            callback = self._callbacks.get(topic)
            if callback is not None:
                delivery.add_done_callback(lambda d, p=partition, n=end - start, cb=callback: cb(p, n, d))
            elif self._stop_on_failure:
                delivery.add_done_callback(lambda d, t=topic: _stop_if_failed(t, d))
            start = end


def _stop_if_failed(topic: str, delivery: Any) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        stop_undelivered(topic, delivery.exception())


def stop_undelivered(topic: str, error: BaseException) -> None:
    """A batch the broker did not take (after the producer's retries): stop the worker at once.

    Its records were stored, and Faust commits the input once the producer is flushed, whether
    or not each batch arrived: going on would commit past changes nobody will ever read. This
    runs as the batch's delivery fails, before the flush that precedes a commit returns (the
    batch's callbacks run in order, and this one was added first), so the input stays
    uncommitted; the restarted worker handles it again and publishes what it stored (the core
    replays a version it already holds). Exit code 75: start it again.
    """
    exit_for_restart(f"a batch for {topic} was not delivered ({error!r}): stopping before the input that "
                     "made it is committed; the restarted worker publishes it again")
