"""The worker applies every input message, even one its group committed past without delivering it.

Faust can commit past a message it never handed to the agent (after a restart or a
rebalance); here the group's offsets are moved past a scan's pages while the worker is
down, which is what that leaves behind. The restarted worker must read them from the
topic and apply them before what follows (streams/drivers/worker/input_gaps.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiokafka import TopicPartition

from elava.events import ChangeEvent
from elava.kafka.clients import ensure_topics, new_consumer
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.topics import Topics
from tests.integration.reading import read_topic
from tests.integration.test_crash_recovery import observation, publish_all, resource, settings_for
from tests.unit.streams.fixtures import T0

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def scan(first: int, count: int, hour: int) -> list:
    return [observation([resource(n, 0)], T0 + timedelta(hours=hour), f"scan-{hour}", 0)
            for n in range(first, first + count)]


async def end_offsets(settings, topic: str) -> dict:
    parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
    consumer = new_consumer(settings.kafka)
    await consumer.start()
    try:
        return await consumer.end_offsets(parts)
    finally:
        await consumer.stop()


async def commit_for_group(settings, offsets: dict) -> None:
    """Commit as the worker's group would (the group is empty: its member's session ended)."""
    consumer = new_consumer(settings.kafka, group_id=settings.worker.app_id)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def run_until_processed(settings, worker: WorkerProcess) -> None:
    worker.start()
    try:
        await wait_until_processed(settings, worker, timeout=180)
    finally:
        worker.stop()


async def test_pages_the_group_committed_past_are_still_applied(kafka_bootstrap, tmp_path):
    settings = settings_for(kafka_bootstrap, tmp_path)
    await ensure_topics(settings.kafka)
    topic = Topics(settings.kafka).observations
    worker = WorkerProcess(settings, settings.worker.data_dir.with_suffix(".log"))
    await publish_all(settings, scan(0, 40, 0))
    await run_until_processed(settings, worker)
    await asyncio.sleep(settings.worker.session_timeout.total_seconds() + 2)  # its static membership ends

    await publish_all(settings, scan(100, 40, 1))  # left out: the group is moved past these
    await commit_for_group(settings, await end_offsets(settings, topic))
    await publish_all(settings, scan(200, 40, 2))
    await run_until_processed(settings, worker)

    created = {ChangeEvent.from_bytes(r.value).uid for r in await read_topic(settings.kafka, Topics(settings.kafka).changes)}
    expected = {resource(n, 0).uid for first in (0, 100, 200) for n in range(first, first + 40)}
    assert expected - created == set()
    log = settings.worker.data_dir.with_suffix(".log").read_text()
    assert "were not delivered to the worker" in log
