"""A worker with input waiting and no progress for worker.stall_timeout exits for its supervisor."""

from __future__ import annotations

import logging
import socket

from aiokafka import TopicPartition

from elava.exit_codes import STALLED_EXIT
from elava.kafka.group_offsets import GroupOffsets
from elava.settings import load_settings
from streams.drivers.worker import restart, stall_watch
from streams.drivers.worker.stall_watch import Progress, ProgressWatch, progress_of

A, B = TopicPartition("elava.observations", 0), TopicPartition("elava.observations", 1)


def progress(waiting: int, marks: tuple = (1,)) -> Progress:
    return Progress({"elava.observations[0]": waiting}, marks)


def test_input_waiting_without_progress_is_a_stall_once_the_timeout_passed():
    watch = ProgressWatch(timeout=60)
    assert watch.stalled_for(progress(5), now=0) is None
    assert watch.stalled_for(progress(5), now=59) is None
    assert watch.stalled_for(progress(5), now=61) == 61


def test_any_progress_or_an_idle_input_starts_the_clock_again():
    watch = ProgressWatch(timeout=60)
    watch.stalled_for(progress(5, marks=(1,)), now=0)
    assert watch.stalled_for(progress(5, marks=(2,)), now=50) is None  # something moved
    assert watch.stalled_for(progress(5, marks=(2,)), now=100) is None  # 50 s since it moved
    assert watch.stalled_for(progress(0, marks=(2,)), now=200) is None  # nothing waiting: idle, not stalled
    assert watch.stalled_for(progress(3, marks=(2,)), now=230) is None  # counted from the idle look: 30 s
    assert watch.stalled_for(progress(3, marks=(2,)), now=291) == 91


def test_progress_counts_what_waits_per_partition_and_marks_what_moves():
    applied_at = {A: 9, B: None}.get
    seen = progress_of([B, A], {A: 20, B: 4}, {A: 10}, applied_at, restored=7)
    assert seen.waiting == {"elava.observations[0]": 10, "elava.observations[1]": 4}
    assert seen.marks == (((A, 9, 10), (B, None, None)), 7)
    assert progress_of([A], {A: 20}, {A: 10}, applied_at, restored=8).marks != seen.marks


def test_a_stall_is_logged_with_the_lag_and_ends_the_process_with_its_code(monkeypatch, caplog):
    exits = []
    monkeypatch.setattr(restart.os, "_exit", exits.append)
    with caplog.at_level(logging.ERROR, logger="elava.worker"):
        stall_watch.exit_stalled(301.0, Progress({"elava.observations[0]": 4, "elava.observations[1]": 0}, ()))
    assert exits == [STALLED_EXIT]
    assert "no progress for 301 s with input waiting" in caplog.text
    assert "{'elava.observations[0]': 4}" in caplog.text


def test_a_zero_timeout_turns_the_watch_off():
    timers = []
    app = type("App", (), {"timer": lambda self, **kw: timers.append(kw)})()
    stall_watch.wire_stall_watch(app, None, None, "group", {"elava.observations"}, 0.0)
    assert timers == []


class FakeApp:
    """What the watch uses of a Faust app: a timer decorator and the consumer's assignment."""

    def __init__(self, assigned, held_back=()) -> None:
        self.timers, self.assigned = [], assigned
        self.consumer = self
        self._buffered_partitions, self.resumed = set(held_back), []

    def on_buffer_drop(self, tp) -> None:
        self.resumed.append(tp)
        self._buffered_partitions.discard(tp)

    def timer(self, interval: float):
        def register(fun):
            self.timers.append((interval, fun))
            return fun
        return register

    def assignment(self):
        return set(self.assigned)


async def test_the_timer_watches_the_input_partitions_held_and_exits_when_they_stall(monkeypatch):
    exits, asked, clock = [], [], [0.0]
    monkeypatch.setattr(restart.os, "_exit", exits.append)
    monkeypatch.setattr(stall_watch.time, "monotonic", lambda: clock[0])

    async def offsets(self, parts):
        asked.append(parts)
        return {tp: 10 for tp in parts}, {tp: 4 for tp in parts}

    monkeypatch.setattr(stall_watch.InputProbe, "offsets", offsets)
    changelog = TopicPartition("elava-worker-mvcc-changelog", 0)
    app = FakeApp({A, changelog})
    table = type("Table", (), {"data": type("Data", (), {"_dbs": {}})(), "restored": 0})()
    stall_watch.wire_stall_watch(app, table, None, "elava-worker", {"elava.observations"}, timeout=60)
    [(interval, watch_progress)] = app.timers
    assert interval == 15
    for clock[0] in (0.0, 30.0, 59.0):
        await watch_progress()
    assert exits == [] and asked[-1] == [A]  # the changelog partition is not input
    clock[0] = 61.0
    await watch_progress()
    assert exits == [STALLED_EXIT]


async def test_a_waiting_partition_faust_stopped_fetching_is_fetched_again_before_the_exit(monkeypatch, caplog):
    exits, clock = [], [0.0]
    monkeypatch.setattr(restart.os, "_exit", exits.append)
    monkeypatch.setattr(stall_watch.time, "monotonic", lambda: clock[0])
    idle_one = TopicPartition("elava.observations", 1)  # suspended too, but nothing of it waits
    app = FakeApp({A, idle_one}, held_back={A, idle_one})
    table = type("Table", (), {"data": type("Data", (), {"_dbs": {}})(), "restored": 0})()
    stall_watch.wire_stall_watch(app, table, None, "elava-worker", {"elava.observations"}, timeout=60)
    [(_, watch_progress)] = app.timers

    async def offsets_one_waiting(self, parts):
        return {tp: 10 for tp in parts}, {tp: (4 if tp == A else 10) for tp in parts}

    monkeypatch.setattr(stall_watch.InputProbe, "offsets", offsets_one_waiting)
    for clock[0] in (0.0, 10.0):
        await watch_progress()
    assert app.resumed == []  # not yet a full interval without progress
    clock[0] = 16.0
    await watch_progress()
    assert app.resumed == [A] and exits == []
    assert "Faust stopped fetching it" in caplog.text


async def test_a_broker_that_is_away_gives_no_verdict_and_does_not_crash_the_worker():
    """Seen in a broker restart: the probe's first start failed with BrokerUnreachable, which the
    timer raised, and Faust crashed the worker that was waiting for the broker as it should."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    kafka = load_settings(None, kafka__bootstrap_servers=f"127.0.0.1:{port}").kafka
    probe = stall_watch.InputProbe(kafka, GroupOffsets(kafka, "elava-test"))
    assert await probe.offsets([A]) is None
    assert probe._consumer is None  # started again at the next look
