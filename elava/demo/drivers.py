"""The two drivers the demo can play its story through: in-process or Kafka."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from collectors.publish import KafkaSink
from elava.events import ChangeEvent, DriftEvent
from elava.kafka import ensure_topics, new_producer
from elava.settings import Settings, load_settings
from elava.topics import Topics
from streams.embedded import EmbeddedPipeline
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore


@dataclass
class StepResult:
    changes: list[ChangeEvent] = field(default_factory=list)
    drift: list[DriftEvent] = field(default_factory=list)


class EmbeddedDriver:
    name = "embedded"

    def __init__(self, store_path: Path) -> None:
        self._kv = RocksKV(store_path)
        self.store = VersionStore(self._kv)
        self.sink = EmbeddedPipeline(self.store)

    async def start(self) -> None:
        return None

    async def results(self) -> StepResult:
        outputs = self.sink.outputs
        result = StepResult(list(outputs.changes), list(outputs.drift))
        outputs.clear()
        return result

    async def stop(self) -> None:
        self._kv.close()


class KafkaDriver:
    """Publishes like `elava collect`, runs `elava worker` beside it, reads its outputs."""

    name = "kafka"

    def __init__(self, bootstrap_servers: str, work_dir: Path, settle_timeout: float = 120.0) -> None:
        run = f"elava-demo-{uuid.uuid4().hex[:8]}"
        self.settings: Settings = load_settings(
            None, kafka__bootstrap_servers=bootstrap_servers, kafka__topic_prefix=run,
            kafka__partitions=4, worker__app_id=run, worker__data_dir=str(work_dir / "worker"))
        self.topics = Topics(self.settings.kafka)
        self.settle_timeout = settle_timeout
        self._producer = new_producer(self.settings.kafka)
        self._consumer: AIOKafkaConsumer | None = None
        self._worker: subprocess.Popen | None = None
        self._log = work_dir / "worker.log"
        self.sink = KafkaSink(self._producer, self.topics)

    def _worker_env(self) -> dict[str, str]:
        kafka, worker = self.settings.kafka, self.settings.worker
        return {**os.environ, "ELAVA_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "ELAVA_KAFKA__TOPIC_PREFIX": kafka.topic_prefix, "ELAVA_KAFKA__PARTITIONS": str(kafka.partitions),
                "ELAVA_WORKER__APP_ID": worker.app_id, "ELAVA_WORKER__DATA_DIR": str(worker.data_dir)}

    async def start(self) -> None:
        await ensure_topics(self.settings.kafka)
        await self._producer.start()
        self._worker = subprocess.Popen(
            [sys.executable, "-m", "elava", "worker", "--loglevel", "WARNING"], env=self._worker_env(),
            stdout=self._log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap_servers,
                                          enable_auto_commit=False, auto_offset_reset="earliest")
        await self._consumer.start()
        parts = [TopicPartition(t, p) for t in (self.topics.changes, self.topics.drift)
                 for p in range(self.settings.kafka.partitions)]
        self._consumer.assign(parts)

    async def results(self) -> StepResult:
        await self._producer.flush()
        await self._wait_until_processed()
        return await self._drain()

    async def _wait_until_processed(self) -> None:
        """Wait until the worker has committed every observation published so far."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap_servers)
        await admin.start()
        try:
            parts = [TopicPartition(self.topics.observations, p) for p in range(self.settings.kafka.partitions)]
            ends = await self._consumer.end_offsets(parts)
            deadline = asyncio.get_running_loop().time() + self.settle_timeout
            while True:
                committed = await self._committed(admin)
                if all(committed.get(tp) and committed[tp].offset >= end for tp, end in ends.items() if end):
                    return
                self._check_worker_alive()
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"worker did not catch up in {self.settle_timeout}s; see {self._log}")
                await asyncio.sleep(0.25)
        finally:
            await admin.close()

    async def _committed(self, admin: AIOKafkaAdminClient) -> dict:
        try:
            return await admin.list_consumer_group_offsets(self.settings.worker.app_id)
        except KafkaError:  # the group (or its coordinator) does not exist yet
            return {}

    def _check_worker_alive(self) -> None:
        if self._worker is not None and self._worker.poll() is not None:
            tail = self._log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the worker exited with {self._worker.returncode}:\n{tail}")

    async def _drain(self) -> StepResult:
        result = StepResult()
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            if not batch:
                return result
            for tp, records in batch.items():
                for record in records:
                    if tp.topic == self.topics.changes:
                        result.changes.append(ChangeEvent.from_bytes(record.value))
                    else:
                        result.drift.append(DriftEvent.from_bytes(record.value))

    async def stop(self) -> None:
        if self._worker is not None and self._worker.poll() is None:
            os.killpg(self._worker.pid, signal.SIGTERM)
            try:
                self._worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._worker.pid, signal.SIGKILL)
                self._worker.wait()
        if self._consumer is not None:
            await self._consumer.stop()
        await self._producer.stop()
