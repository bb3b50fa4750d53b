"""The broker restarts mid-run: the worker and the publishers reconnect and lose nothing.

This test runs its own broker (the session's one stays up for the other tests).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from datetime import timedelta

import orjson
import pytest

from collectors.publish import KafkaSink
from elava.demo.simulated import free_port
from elava.kafka import ensure_topics, new_producer
from elava.settings import load_settings
from elava.topics import Topics
from elava.worker_process import WorkerProcess, wait_until_processed
from tests.integration.conftest import SCRIPT
from tests.integration.reading import read_topic
from tests.integration.test_crash_recovery import observation, resource

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RESOURCES = 2000


def broker(command: str, env: dict) -> None:
    done = subprocess.run(["bash", str(SCRIPT), command], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def publish_round(settings, round_: int) -> None:
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        sink = KafkaSink(producer, Topics(settings.kafka))
        members = [resource(n, round_) for n in range(RESOURCES)]
        for start in range(0, RESOURCES, 200):
            await sink.page(observation(members[start:start + 200], _at(round_), f"restart-{round_}", start))
        await producer.flush()
    finally:
        await producer.stop()


def _at(round_: int):
    from tests.unit.streams.fixtures import T0

    return T0 + timedelta(hours=round_)


async def test_worker_and_publishers_survive_a_broker_restart(tmp_path):
    port = free_port()
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(free_port()),
           "ELAVA_KAFKA_RUN": str(tmp_path / "broker")}
    broker("start", {**env, "KAFKA_FRESH": "1"})
    run = f"restart-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=f"127.0.0.1:{port}", kafka__topic_prefix=run,
                             kafka__partitions=2, kafka__shard_buckets=1, worker__app_id=run,
                             worker__data_dir=str(tmp_path / "w"), worker__web_port=0)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        await ensure_topics(settings.kafka)
        worker.start()
        await publish_round(settings, 0)
        await wait_until_processed(settings, worker, timeout=120)

        broker("stop", env)
        await asyncio.sleep(5)
        assert worker.running, "the worker must wait for the broker, not exit"
        broker("start", env)
        await publish_round(settings, 1)
        await wait_until_processed(settings, worker, timeout=180)
        assert worker.running

        changes = await read_topic(settings.kafka.bootstrap_servers, Topics(settings.kafka).changes, 2)
        versions: dict[bytes, set] = {}
        for record in changes:  # a redelivered change may repeat; it keeps its event id
            versions.setdefault(record.key, set()).add(orjson.loads(record.value)["event_id"])
        assert len(versions) == RESOURCES  # every resource was created
        assert sum(1 for ids in versions.values() if len(ids) == 2) == RESOURCES // 10  # 10% modified after
    finally:
        worker.stop()
        broker("stop", env)
