"""Change events the broker refuses are not committed past: the worker stops, and once the
broker takes them again the restarted worker publishes what it had stored."""

from __future__ import annotations

import asyncio
import uuid
import warnings

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from collectors.publish import KafkaSink
from elava.events import ChangeEvent
from elava.exit_codes import STALLED_EXIT
from elava.kafka.clients import ensure_topics, new_admin, new_producer
from elava.processes.worker_process import WorkerProcess, uncommitted, wait_until_processed
from elava.settings import Settings, load_settings
from elava.topics import Topics
from tests.integration.reading import read_topic
from tests.unit.streams.fixtures import T0, page, sg

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def _limit(settings: Settings, topic: str, max_message_bytes: int) -> None:
    admin = new_admin(settings.kafka)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                  {"max.message.bytes": str(max_message_bytes)})])
    finally:
        await admin.close()


async def _publish(settings: Settings, *pages) -> None:
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        sink = KafkaSink(producer, Topics(settings.kafka))
        for each in pages:
            await sink.page(each)
        await producer.flush()
    finally:
        await producer.stop()


async def _exit_code(worker: WorkerProcess, timeout: float) -> int | None:
    for _ in range(int(timeout * 5)):
        if not worker.running:
            return worker.process.returncode
        await asyncio.sleep(0.2)
    return None


async def test_refused_change_events_stop_the_worker_before_its_input_is_committed(kafka_bootstrap, tmp_path):
    run = f"refused-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run,
                             kafka__partitions=2, worker__app_id=run, worker__data_dir=str(tmp_path / run),
                             worker__web_port=0, worker__session_timeout="6s", worker__stall_timeout="20s",
                             policies__enabled=False)
    topics = Topics(settings.kafka)
    await ensure_topics(settings.kafka)
    await _limit(settings, topics.changes, 200)  # a change event is ~1 KB: the broker refuses it
    groups = [sg(f"sg-refused-{n}", {"owner": "alice"}) for n in range(3)]
    await _publish(settings, *(page([group], T0, scan="refused") for group in groups))

    worker = WorkerProcess(settings, tmp_path / f"{run}.log")
    worker.start()
    try:
        code = await _exit_code(worker, timeout=120)
    finally:
        worker.kill()
    assert code == STALLED_EXIT, f"the worker went on (exit {code}):\n{worker.log_tail()}"
    assert "was not delivered" in worker.log_tail()
    # No change event could go out: none of the pages was committed, all wait for the restart.
    assert await uncommitted(settings, run, topics.observations) == len(groups)

    await _limit(settings, topics.changes, 1024 * 1024)
    # Faust may drop the pages it fetched during its recovery; with none after them to show the
    # gap, the worker waits until its stall watch ends it, and is started again, as its
    # supervisor would (docs/operations.md); said in the run's summary when it happens.
    worker = WorkerProcess(settings, tmp_path / f"{run}.log", loglevel="INFO", restart_when_stalled=True)
    worker.start()
    try:
        await wait_until_processed(settings, worker, timeout=120)
    finally:
        worker.stop()
    if worker.stall_restarts:
        warnings.warn(f"the restarted worker stalled and was started again {worker.stall_restarts} time(s)",
                      stacklevel=1)
    changes = [ChangeEvent.from_bytes(r.value) for r in await read_topic(settings.kafka, topics.changes)]
    assert sorted((c.uid, c.kind) for c in changes) == sorted((g.uid, "created") for g in groups)
