"""Patterns across resources on the real broker: the fleet-pattern stage the worker runs
publishes a burst and a re-creation under a name once each on elava.patterns, though it was
killed while they were pending; killed again once they were out, it raises nothing new; and
a stage that rebuilds its window from the topic by time raises them again under the same ids."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from datetime import timedelta

import pytest

from elava.analyzer_events import PatternEvent
from elava.demo.simulated import free_port
from elava.events import utcnow
from elava.kafka.clients import ensure_topics, new_admin, new_producer
from elava.processes.worker_process import (
    ServiceProcess,
    WorkerProcess,
    committed_offsets,
    wait_until_judged,
    worker_env,
)
from elava.settings import load_settings
from elava.topics import Topics
from streams.analyzers.fleet import FleetItem, fleet_items
from tests.integration.reading import read_topic
from tests.integration.test_policy_stage import gone, stage_child
from tests.unit.streams.analyzers.fleet_cases import BOB, attributed, instance

pytestmark = pytest.mark.integration
SETTLE = 8  # seconds: the first stage is killed well before the changes are due


class FleetProcess(ServiceProcess):
    command = "fleet serve"

    def env(self) -> dict[str, str]:
        return worker_env(self.settings)


def settings_for(bootstrap: str, work, group: str | None = None):
    run = f"fleet-{uuid.uuid4().hex[:6]}"
    return load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run, kafka__partitions=2,
                         worker__app_id=run, worker__data_dir=str(work / run), worker__web_port=free_port(),
                         policies__enabled=False, analyzer__patterns__fleet_app_id=group or f"{run}-fleet",
                         analyzer__patterns__fleet_settle=f"{SETTLE}s", analyzer__patterns__burst_changes=3,
                         analyzer__patterns__burst_window="5m")


def story():
    """A server replaced under its name, three more changed by bob within a minute (CloudTrail says)."""
    now = utcnow() - timedelta(seconds=30)
    return [attributed(instance("i-old", "web"), "deleted", now, version=2),
            attributed(instance("i-new", "web"), "created", now + timedelta(seconds=5)),
            *(attributed(instance(f"i-{n}", f"app-{n}"), "modified", now + timedelta(seconds=10 * n), 2, BOB)
              for n in range(3))]


async def publish(settings, changes) -> None:
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        for change in changes:
            await producer.send_and_wait(Topics(settings.kafka).attributed_changes, value=change.to_bytes(),
                                         key=change.change.uid.encode())
    finally:
        await producer.stop()


async def patterns_on_topic(settings) -> list[PatternEvent]:
    records = await read_topic(settings.kafka, Topics(settings.kafka).patterns)
    return [PatternEvent.from_bytes(r.value) for r in records]


async def until_read(settings, worker: WorkerProcess, timeout: float = 120.0) -> None:
    """Until the stage has committed a position (it does after each batch it read)."""
    admin = new_admin(settings.kafka)
    await admin.start()
    try:
        async with asyncio.timeout(timeout):
            while not await committed_offsets(admin, settings.analyzer.patterns.fleet_app_id):
                worker.check_alive()
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def until_published(settings, count: int, process: ServiceProcess, timeout: float = 120.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await patterns_on_topic(settings)
        if len(found) >= count:
            return found
        process.check_alive()
        await asyncio.sleep(0.5)
    raise AssertionError(f"{count} patterns expected on elava.patterns, found {len(found)}")


async def test_fleet_patterns_once_each_across_a_crash_and_again_under_the_same_ids(kafka_bootstrap, tmp_path):
    settings = settings_for(kafka_bootstrap, tmp_path)
    await ensure_topics(settings.kafka)
    changes = story()
    items = [FleetItem.from_attributed(c) for c in changes]
    expected = {e.event_id: e.pattern for e in fleet_items(items, items, settings.analyzer.patterns)}
    assert sorted(expected.values()) == ["burst", "recreated"]

    worker = WorkerProcess(settings, tmp_path / "worker.log")  # runs the fleet-pattern stage as its child
    worker.start()
    try:
        await publish(settings, changes)
        await until_read(settings, worker)
        first = await stage_child(worker, command=b"fleet\0serve")
        os.kill(first, signal.SIGKILL)  # the changes are read, not due yet: nothing was raised
        assert await gone(first)
        found = await until_published(settings, 2, worker)
        assert Counter(e.event_id for e in found) == Counter(expected.keys())  # once each, with the rules' ids
        await wait_until_judged(settings, worker)
        second = await stage_child(worker, command=b"fleet\0serve")
        assert second != first
        os.kill(second, signal.SIGKILL)  # after they were out and committed
        await publish(settings, [attributed(instance("i-9", "other"), "modified", utcnow(), 2)])
        await stage_child(worker, command=b"fleet\0serve")
        await wait_until_judged(settings, worker, timeout=120)  # the third stage has judged the new change
        assert Counter(e.event_id for e in await patterns_on_topic(settings)) == Counter(expected.keys())
    finally:
        worker.stop()

    # A stage of another group has no offsets: it rebuilds its window from the topic by time.
    fresh = settings.model_copy(update={"analyzer": settings.analyzer.model_copy(update={
        "patterns": settings.analyzer.patterns.model_copy(update={"fleet_app_id": f"{uuid.uuid4().hex[:6]}-again"})})})
    again = FleetProcess(fresh, tmp_path / "fleet.log")
    again.start()
    try:
        found = await until_published(settings, 4, again)
    finally:
        again.stop()
    assert Counter(e.event_id for e in found) == Counter({event_id: 2 for event_id in expected})
