"""A worker that makes no progress while its input waits exits, so that its supervisor restarts it.

Faust's recovery can stop moving after a restart: in one CI run a worker restarted after
SIGKILL committed nothing for 300 s with input waiting, and in a stress run a restart's
recovery of 401 changelog records had not ended after 8 s where the same recovery took
0.3 s on the next start (faust-streaming#21 and #74 describe hangs of this kind). A
restarted worker starts its recovery afresh, and the store and the input offsets survive
any crash (the SIGKILL test), so the remedy is to stop the process and let its
supervisor (systemd, Kubernetes) start it again, instead of hanging without a word.

Every ``interval`` the worker compares, for the input partitions it holds, the topic's end
offsets with what its group committed; input waits while they differ. Progress is any
change of the offsets the partitions' stores record as applied, of the committed offsets,
or of the number of changelog records restored. Input waiting and no progress for
``worker.stall_timeout`` (5 min by default; 0 turns the watch off): the worker logs why,
with the lag per partition, and exits with code 75 (EX_TEMPFAIL).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from elava.exceptions import BrokerUnreachable, KafkaAccessError
from elava.kafka.clients import new_consumer
from elava.kafka.group_offsets import GroupOffsets
from elava.settings import KafkaSettings
from streams.drivers.worker.faust_adapter import held_back, partition_dbs
from streams.drivers.worker.input_gaps import applied
from streams.drivers.worker.restart import exit_for_restart
from streams.store.kv import RdictKV

log = logging.getLogger("elava.worker")


@dataclass(frozen=True)
class Progress:
    """What the watch sees of the worker at one moment."""

    waiting: dict[str, int]  # "topic[partition]" -> input messages not yet committed
    marks: tuple  # anything that moves while the worker works (offsets applied and committed, records restored)


class ProgressWatch:
    """Says when input has waited ``timeout`` seconds without the worker making progress."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._marks: tuple | None = None
        self._since = 0.0
        self._waiting = False

    def idle_for(self, now: float) -> float:
        """Seconds since the last progress while input waited (0 when nothing waits)."""
        return now - self._since if self._waiting else 0.0

    def stalled_for(self, progress: Progress, now: float) -> float | None:
        """Seconds without progress while input waited, once they reach the timeout; else None."""
        self._waiting = any(progress.waiting.values())
        if not self._waiting or progress.marks != self._marks:
            self._marks, self._since = progress.marks, now
            return None
        idle = now - self._since
        return idle if idle >= self.timeout else None


class InputProbe:
    """Reads the input topics' end offsets and the group's committed offsets (its own clients)."""

    def __init__(self, kafka: KafkaSettings, group: GroupOffsets) -> None:
        self.kafka = kafka
        self._consumer: Any = None
        self._group = group

    async def offsets(self, parts: list[TopicPartition]) -> tuple[dict, dict] | None:
        """(end offsets, committed offsets) of ``parts``; None when Kafka does not answer (no verdict)."""
        try:
            if self._consumer is None:
                consumer = new_consumer(self.kafka)
                try:
                    await consumer.start()
                except BaseException:
                    await consumer.stop()  # its client's connections and tasks, before trying again
                    raise
                self._consumer = consumer
            ends = await self._consumer.end_offsets(parts)
            committed = await self._group.committed(parts)
        # A broker that is away (restarting) is no stall, and no reason to crash the worker: its
        # consumer waits for the broker, and this probe's client starts again at the next look.
        except (KafkaError, OSError, BrokerUnreachable, KafkaAccessError) as exc:
            log.debug("progress watch: offsets not read (%s)", exc)
            return None
        return ends, committed


def progress_of(parts: Iterable[TopicPartition], ends: dict, committed: dict, applied_at: Callable[[TopicPartition], int | None],
                restored: int) -> Progress:
    parts = sorted(parts)
    waiting = {f"{tp.topic}[{tp.partition}]": max(0, ends.get(tp, 0) - committed.get(tp, 0)) for tp in parts}
    marks = (tuple((tp, applied_at(tp), committed.get(tp)) for tp in parts), restored)
    return Progress(waiting, marks)


def applied_reader(table: Any) -> Callable[[TopicPartition], int | None]:
    """The offset a partition's store records as applied for an input topic-partition (None: not open)."""
    dbs = partition_dbs(table)

    def applied_at(tp: TopicPartition) -> int | None:
        db = dbs.get(tp.partition)
        return applied(RdictKV(db), tp.topic, tp.partition) if db is not None else None

    return applied_at


def resume_held_back(app: Any, assigned: list, progress: Progress) -> None:
    """Fetch again the waiting partitions Faust left suspended for a full buffer.

    Seen after restarts: a partition whose buffered messages Faust dropped during its recovery
    stayed out of its fetches with its buffer empty, so nothing more of it came (the crash
    test's stall of one partition with 72 and 91 messages waiting). With input waiting and
    nothing moving, its buffer is not filling: fetching it again is what Faust's own
    ``on_buffer_drop`` does when the buffer drains.
    """
    waiting = [tp for tp in assigned if progress.waiting.get(f"{tp.topic}[{tp.partition}]")]
    for tp in sorted(held_back(app, waiting)):
        log.warning("%s[%d]: input waits, and Faust stopped fetching it for a full buffer that is not "
                    "filling; fetching it again", tp.topic, tp.partition)
        app.consumer.on_buffer_drop(tp)


def exit_stalled(idle: float, progress: Progress) -> None:
    behind = {name: count for name, count in progress.waiting.items() if count}
    exit_for_restart(f"no progress for {idle:.0f} s with input waiting (messages per partition: {behind}; "
                     "worker.stall_timeout)")


def wire_stall_watch(app: Any, table: Any, kafka: KafkaSettings, group: GroupOffsets, input_topics: set[str],
                     timeout: float) -> None:
    """Check the worker's progress every few seconds; exit when it stalled (``timeout`` 0: never)."""
    if timeout <= 0:
        return
    watch, probe = ProgressWatch(timeout), InputProbe(kafka, group)
    interval = max(1.0, min(15.0, timeout / 4))

    @app.timer(interval=interval)
    async def watch_progress() -> None:
        assigned = [tp for tp in app.consumer.assignment() if tp.topic in input_topics]
        parts = sorted(TopicPartition(tp.topic, tp.partition) for tp in assigned)
        read = await probe.offsets(parts) if parts else ({}, {})
        if read is None:
            return
        progress = progress_of(parts, *read, applied_reader(table), getattr(table, "restored", 0))
        now = time.monotonic()
        idle = watch.stalled_for(progress, now)
        if idle is not None:
            exit_stalled(idle, progress)
        elif watch.idle_for(now) >= interval:  # input waits, nothing moved since the last look
            resume_held_back(app, assigned, progress)
