"""The broker restarts mid-run: the worker and the publisher reconnect and lose nothing.

One producer and one worker process live through the restart; the second round is
handed to the producer while the broker is down, so it crosses the restart in flight.

This test runs its own broker (the session's one stays up for the other tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from datetime import timedelta

import orjson
import pytest

from collectors.publish import KafkaSink
from elava.demo.simulated import free_port
from elava.kafka.clients import ensure_topics, new_producer
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.settings import load_settings
from elava.topics import Topics
from tests.integration.conftest import SCRIPT
from tests.integration.reading import read_topic
from tests.integration.test_crash_recovery import BUCKETS, observation, resource

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RESOURCES, PAGE = 2000, 200


def broker(command: str, env: dict) -> None:
    done = subprocess.run(["bash", str(SCRIPT), command], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def publish_round(sink: KafkaSink, round_: int) -> None:
    members = [resource(n, round_) for n in range(RESOURCES)]
    for start in range(0, RESOURCES, PAGE):
        await sink.page(observation(members[start:start + PAGE], _at(round_), f"restart-{round_}", start))
    await sink.producer.flush()


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
                             kafka__partitions=2, kafka__shard_buckets=BUCKETS, worker__app_id=run,
                             worker__data_dir=str(tmp_path / "w"), worker__web_port=0)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    producer = new_producer(settings.kafka)  # one publisher for both rounds, across the restart
    try:
        await ensure_topics(settings.kafka)
        worker.start()
        await producer.start()
        sink = KafkaSink(producer, Topics(settings.kafka))
        await publish_round(sink, 0)
        await wait_until_processed(settings, worker, timeout=120)
        worker_pid = worker.process.pid

        await asyncio.to_thread(broker, "stop", env)
        publishing = asyncio.create_task(publish_round(sink, 1))  # sent while the broker is away
        await asyncio.sleep(5)
        assert worker.running, "the worker must wait for the broker, not exit"
        if publishing.done():
            publishing.result()  # raises what went wrong
            pytest.fail("round 1 was delivered while the broker was down")
        await asyncio.to_thread(broker, "start", env)
        await asyncio.wait_for(publishing, timeout=120)
        await wait_until_processed(settings, worker, timeout=180)
        assert worker.running and worker.process.pid == worker_pid  # the same worker, never restarted

        topics = Topics(settings.kafka)
        # The pages' shard keys follow the worker's layout: a page it refused would sit here, not lost.
        assert await read_topic(settings.kafka.bootstrap_servers, topics.dlq) == []
        pages = await read_topic(settings.kafka.bootstrap_servers, topics.observations)
        assert len(pages) == 2 * RESOURCES // PAGE  # every page once: none lost, none doubled by a retry
        changes = await read_topic(settings.kafka.bootstrap_servers, topics.changes)
        versions: dict[bytes, set] = {}
        for record in changes:  # a redelivered change may repeat; it keeps its event id
            versions.setdefault(record.key, set()).add(orjson.loads(record.value)["event_id"])
        assert len(versions) == RESOURCES  # every resource was created
        assert sum(1 for ids in versions.values() if len(ids) == 2) == RESOURCES // 10  # 10% modified after
    finally:
        worker.stop()
        with contextlib.suppress(TimeoutError):  # it flushes first: a broker that never came back must not hang us
            await asyncio.wait_for(producer.stop(), timeout=30)
        broker("stop", env)
