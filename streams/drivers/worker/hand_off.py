"""The worker's records handed to aiokafka in order, without the handler waiting for the broker.

aiokafka's ``send_batch`` returns only once the partition's previous batch has been taken
into a produce request: about one broker round trip per input message, which the agent
spent waiting instead of handling the next one (2.5 s of a 28 s run, docs/benchmarks.md).
Here each topic-partition has a queue and a task of its own that adds its records to the
producer in the order they were queued, as many per batch as fit, so the handler goes on.

The commit's guarantee moves with them: Faust flushes its producer before it commits the
input, and the worker's producer (streams/drivers/worker/faust_adapter.py) first awaits
``handed_over``: every record queued before that moment is in aiokafka's accumulator, whose
own flush then waits for its delivery. A refused delivery still stops the worker before
that flush returns (``stop_undelivered``). A batch aiokafka will not accept (no metadata
yet, a full accumulator) is offered again, waiting longer each time; the records behind it
wait with it, and the handler stops for them once ``max_queued`` records are waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.errors import ProducerClosed

from streams.drivers.worker.restart import exit_for_restart

log = logging.getLogger("elava.worker")
Record = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]
TopicPartition = tuple[str, int]
# A batch aiokafka did not accept is offered again after this, doubling up to the cap.
FIRST_RETRY_WAIT_S, MAX_RETRY_WAIT_S = 0.5, 30.0
# Records queued and not yet handed over, beyond which the handler waits: a few pages'
# worth (a page of 500 new resources makes ~1,500 records), so memory stays bounded
# when the broker is slow.
MAX_QUEUED_RECORDS = 8192


class HandOff:
    """``send`` builds and adds one batch (aiokafka's ``create_batch``/``send_batch``) from the
    front of a record list and returns how many records it took."""

    def __init__(self, send: Callable[[Any, TopicPartition, list[Record], int], Any],
                 producer_of: Callable[[], Any], max_queued: int | None = None) -> None:
        self._send, self._producer_of = send, producer_of
        self._max_queued = MAX_QUEUED_RECORDS if max_queued is None else max_queued
        self._queued: dict[TopicPartition, list[Record]] = {}
        self._drainers: dict[TopicPartition, asyncio.Task] = {}
        self._enqueued: dict[TopicPartition, int] = {}  # records ever queued, per topic-partition
        self._handed: dict[TopicPartition, int] = {}  # of those, records in aiokafka's accumulator
        self._waiting = 0
        self._progress: asyncio.Event | None = None

    @property
    def waiting(self) -> int:
        """Records queued and not yet handed to aiokafka."""
        return self._waiting

    async def put(self, pending: dict[TopicPartition, list[Record]]) -> None:
        """Queue each topic-partition's records behind those already queued; wait only when
        more than ``max_queued`` records are waiting."""
        for tp, records in pending.items():
            self._queued.setdefault(tp, []).extend(records)
            self._enqueued[tp] = self._enqueued.get(tp, 0) + len(records)
            self._waiting += len(records)
            if tp not in self._drainers:
                self._drainers[tp] = asyncio.create_task(self._drain(tp), name=f"hand-off {tp[0]}[{tp[1]}]")
        while self._waiting > self._max_queued:
            await self._next_progress()

    async def handed_over(self) -> None:
        """Return once every record queued before this call is in aiokafka's accumulator (records
        queued meanwhile are not waited for: a commit under load would never come)."""
        targets = dict(self._enqueued)
        while any(self._handed.get(tp, 0) < count for tp, count in targets.items()):
            await self._next_progress()

    async def _next_progress(self) -> None:
        if self._progress is None:
            self._progress = asyncio.Event()
        self._progress.clear()
        await self._progress.wait()

    def _advanced(self, tp: TopicPartition, records: int) -> None:
        self._handed[tp] = self._handed.get(tp, 0) + records
        self._waiting -= records
        if self._progress is not None:
            self._progress.set()

    async def _drain(self, tp: TopicPartition) -> None:
        try:
            while records := self._queued.pop(tp, None):
                start = 0
                while start < len(records):
                    taken = await self._offer(tp, records, start)
                    start += taken
                    self._advanced(tp, taken)
        finally:
            del self._drainers[tp]

    async def _offer(self, tp: TopicPartition, records: list[Record], start: int) -> int:
        """Add the next batch of ``records`` from ``start``; offered again until aiokafka takes it."""
        wait = FIRST_RETRY_WAIT_S
        while True:
            try:
                return await self._send(self._producer_of(), tp, records, start)
            except ProducerClosed:
                # Records stored and never to be sent: their input must not be committed.
                exit_for_restart(f"the producer closed with {self._waiting} records for {tp[0]} not handed over")
                raise
            except Exception:
                log.exception("a batch for %s[%d] was not accepted; offering it again in %.1f s", tp[0], tp[1], wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, MAX_RETRY_WAIT_S)
