"""`elava fleet serve`: attributed changes in, patterns across resources out (elava.patterns).

A resource re-created under its name with a new id, or a burst of changes by one actor,
spans partitions: no worker task sees it. This stage reads every partition of
``elava.attributed-changes`` (each change, and each later attribution of it) in its own
consumer group (``analyzer.patterns.fleet_app_id``), keeps the recent changes in a window
(streams/analyzers/fleet_window.py) and publishes what the fleet rules
(streams/analyzers/fleet.py) raise, under the ids `elava patterns` gives them.

A change is judged ``fleet_settle`` after it happened. Offsets are committed up to the
first change of each partition not yet judged, after the batch's patterns are delivered.
At start the stage reads each partition from the rules' lookback before the earliest change
it may judge (offsets for times): the first pending change of each partition (read at its
committed offset, however long the stage was down), or ``fleet_settle`` plus the lookback
before now if earlier; never later than the committed offset. What was judged before is
read again as evidence only, so a crash loses no pattern and one raised twice (killed
between delivery and commit) has the same id. Run one per installation: inside `elava
worker` (a supervised child, the default) or apart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from elava.events import cloudevent_headers
from elava.exceptions import SchemaError
from elava.heap import settle_heap
from elava.kafka.clients import STAGE_FETCH, new_consumer, new_producer
from elava.kafka.topic_read import partitions_of
from elava.settings import Settings
from elava.topics import Topics
from streams.analyzers.fleet import FleetItem, lookback
from streams.analyzers.fleet_window import FleetWindow, Key
from streams.dlq import dead_letter
from streams.siem.sink import ocsf_copies

log = logging.getLogger("elava.fleet")
SOURCE = "elava/fleet-patterns"
FETCH_WAIT_MS = 500
BATCH_RECORDS = 2000
MICROS = 1_000_000
PROBE_POLLS = 20  # polls at start to read the first pending record of each partition


def now_micros() -> int:
    return int(time.time() * MICROS)


def change_time(record: Any) -> int | None:
    """When a record's change happened: its observed time, or its record's time (never later) if unreadable."""
    stamped = record.timestamp * 1000 if record.timestamp is not None and record.timestamp >= 0 else None
    try:
        observed = FleetItem.from_bytes(record.value or b"").at
    except SchemaError:
        return stamped
    return observed if stamped is None else min(observed, stamped)


def reread_since(pending: list[int | None], present: int, reach: int) -> int:
    """From when to read again at start: ``reach`` before the earliest change that may be judged —
    the first pending change of each committed partition however old, and what a partition never
    committed judges (from ``reach`` before ``present``). An unreadable pending change: everything."""
    if None in pending:
        return 0
    return min([present - reach, *pending]) - reach


def start_offsets(parts: list[TopicPartition], by_time: dict[TopicPartition, int], ends: dict[TopicPartition, int],
                  committed: dict[TopicPartition, int | None]) -> dict[TopicPartition, int]:
    """Per partition: the first record at or after the time to read from (none: its end), never
    later than the committed offset (what was not judged is read again, whatever its time)."""
    starts = {}
    for tp in parts:
        starts[tp] = by_time.get(tp, ends[tp])
        if committed[tp] is not None:
            starts[tp] = min(starts[tp], committed[tp])
    return starts


class PartitionReads:
    """Where each partition stands: what it had at start, what was judged before, what is read."""

    def __init__(self, starts: dict[TopicPartition, int], ends: dict[TopicPartition, int],
                 committed: dict[TopicPartition, int | None]) -> None:
        self.starts, self.ends, self.committed = starts, ends, committed
        self.latest: dict[TopicPartition, int] = {}  # time of the last change read, per partition
        self.next: dict[TopicPartition, int] = {}  # offset after the last record read
        self.first_pending: dict[Key, tuple[TopicPartition, int]] = {}

    def read(self, tp: TopicPartition, offset: int, at: int | None) -> None:
        self.next[tp] = offset + 1
        if at is not None:
            self.latest[tp] = max(self.latest.get(tp, at), at)

    def clock(self, present: int) -> int:
        """Judge up to ``present``, or less while a partition is still behind what it held at start
        (its earlier changes may belong with those of the others)."""
        behind = [tp for tp, end in self.ends.items() if self.next.get(tp, self.starts[tp]) < end]
        return min([present, *(self.latest.get(tp, 0) for tp in behind)])

    def commits(self, pending: set[Key]) -> dict[TopicPartition, int]:
        """Per partition: the first change not yet judged, else all that was read."""
        self.first_pending = {key: spot for key, spot in self.first_pending.items() if key in pending}
        offsets = dict(self.next)
        for tp, offset in self.first_pending.values():
            offsets[tp] = min(offsets.get(tp, offset), offset)
        return offsets


class FleetStage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.patterns = settings.analyzer.patterns
        self.topics = Topics(settings.kafka)
        self.window = FleetWindow(self.patterns)
        self.settle = self.patterns.fleet_settle // timedelta(microseconds=1)
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.reads: PartitionReads | None = None
        self.context_before = 0  # with no offset committed, changes older than this are evidence only
        self.last_commit: dict[TopicPartition, int] = {}

    async def run(self, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
        self.producer = new_producer(self.settings.kafka)
        self.consumer = self.new_consumer()
        try:
            await self.producer.start()
            await self.consumer.start()
            await self._assign()
            if ready is not None:
                ready()
            log.info("fleet-pattern stage: %s -> %s (group %s)", self.topics.attributed_changes,
                     self.topics.patterns, self.patterns.fleet_app_id)
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=BATCH_RECORDS)
                await self.handle(batch)
        finally:
            await self._shutdown()

    def new_consumer(self) -> AIOKafkaConsumer:
        return new_consumer(self.settings.kafka, group_id=self.patterns.fleet_app_id, auto_offset_reset="earliest",
                            **STAGE_FETCH)

    async def _assign(self) -> None:
        """Every partition, from the first change not judged before or from the evidence it needs."""
        topic = self.topics.attributed_changes
        parts = [TopicPartition(topic, p) for p in await partitions_of(self.settings.kafka, topic)]
        if not parts:
            raise KafkaError(f"topic {topic} has no partitions (run `elava topics create`)")
        self.consumer.assign(parts)
        committed = {tp: await self.consumer.committed(tp) for tp in parts}
        ends = await self.consumer.end_offsets(parts)
        reach = lookback(self.patterns) // timedelta(microseconds=1)
        present = now_micros() - self.settle
        self.context_before = present - reach
        pending = await self._pending_times(committed, ends)
        since = reread_since(pending, present, reach)
        by_time = await self.consumer.offsets_for_times({tp: max(since, 0) // 1000 for tp in parts})
        starts = start_offsets(parts, {tp: found.offset for tp, found in by_time.items() if found}, ends, committed)
        for tp, offset in starts.items():
            self.consumer.seek(tp, offset)
        self.reads = PartitionReads(starts, ends, committed)

    async def _pending_times(self, committed: dict[TopicPartition, int | None],
                             ends: dict[TopicPartition, int]) -> list[int | None]:
        """When the first change not judged before happened, per partition that has one (None:
        unreadable). Its evidence lies up to ``lookback`` before it, however long the stage was down."""
        probe = {tp: offset for tp, offset in committed.items() if offset is not None and offset < ends[tp]}
        found: dict[TopicPartition, int | None] = {}
        for tp, offset in probe.items():
            self.consumer.seek(tp, offset)
        for _ in range(PROBE_POLLS):
            if len(found) == len(probe):
                break
            batch = await self.consumer.getmany(*[tp for tp in probe if tp not in found], timeout_ms=FETCH_WAIT_MS)
            for tp, records in batch.items():
                if records and tp not in found:
                    found[tp] = change_time(records[0])
        return [found.get(tp) for tp in probe]

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Take a poll's changes, publish what is due, wait for its delivery, then commit."""
        deliveries = []
        for tp, records in batch.items():
            for record in records:
                deliveries.extend(await self._take(tp, record))
        for event in self.window.judge(self.reads.clock(now_micros() - self.settle)):
            deliveries.append(await self.producer.send(
                self.topics.patterns, value=event.to_bytes(), key=event.uid.encode(),
                headers=cloudevent_headers(event, SOURCE)))
            for message in ocsf_copies(event, SOURCE):  # the SIEM's view, as the worker gives its patterns
                deliveries.append(await self.producer.send(self.topics.ocsf, value=message.value, key=message.key,
                                                           headers=message.headers))
        await asyncio.gather(*deliveries)  # a failed delivery raises: nothing is committed
        await self._commit()

    async def _take(self, tp: TopicPartition, record: Any) -> list[Any]:
        try:
            item = FleetItem.from_bytes(record.value or b"")
        except SchemaError as exc:
            self.reads.read(tp, record.offset, None)
            return await self._dead_letter(record, str(exc))
        key = (item.uid, item.version)
        judged_before = self.reads.committed.get(tp)
        evidence_only = (record.offset < judged_before if judged_before is not None
                         else item.at < self.context_before)
        was_pending = key in self.window.pending
        self.window.add(item, judge=not evidence_only)
        if key in self.window.pending and not was_pending:
            self.reads.first_pending[key] = (tp, record.offset)
        self.reads.read(tp, record.offset, item.at)
        return []

    async def _commit(self) -> None:
        offsets = self.reads.commits(self.window.pending)
        if not offsets or offsets == self.last_commit:
            return  # judging what was read (with no pattern) moves the first pending change too
        try:
            await self.consumer.commit(offsets)
            self.last_commit = offsets
        except KafkaError as exc:
            log.warning("offset commit failed (%s); these changes will be judged again, under the same ids", exc)

    async def _dead_letter(self, record: Any, reason: str) -> list[Any]:
        log.warning("dead letter from %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)
        deliveries: list[Any] = []

        async def send(key: bytes | None, value: bytes | None, headers: list) -> None:
            deliveries.append(await self.producer.send(self.topics.dlq, value=value, key=key, headers=headers))

        await dead_letter(send, record, reason, by=SOURCE)
        return deliveries

    async def _shutdown(self) -> None:
        for client in (self.consumer, self.producer):
            try:
                await client.stop()
            except Exception as exc:  # noqa: BLE001 - shut the rest down regardless
                log.warning("during shutdown: %s", exc)


async def serve(settings: Settings, ready_fd: int | None = None, with_parent: bool = False) -> None:
    """Run the stage until SIGINT/SIGTERM (as a child of `elava worker`: see streams/drivers/worker/policy_stage.py)."""
    from streams.drivers.worker.policy_stage import run_until_stopped

    settle_heap()  # its window keeps a day of changes (elava/heap.py); run_until_stopped is also run in tests
    await run_until_stopped(FleetStage(settings).run, "fleet-pattern stage", ready_fd, with_parent)
