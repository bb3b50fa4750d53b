"""The two drivers the demo can play its story through: in-process or Kafka."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from collectors.publish import KafkaSink
from elava.analyzer_events import DriftEvent, PatternEvent, WasteFinding
from elava.demo.simulated import free_port
from elava.events import ActionRequest, ChangeEvent, PolicyDecision
from elava.exceptions import ElavaError
from elava.kafka.clients import ensure_topics, new_consumer, new_producer
from elava.processes.worker_process import (
    WorkerProcess,
    wait_until_decided,
    wait_until_drift_judged,
    wait_until_judged,
    wait_until_processed,
)
from elava.settings import Settings, load_settings
from elava.topics import Topics
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.policy.isolated import isolated_policies_for
from streams.siem.ocsf import ocsf_events_for
from streams.siem.policies import policy_severities
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore


@dataclass
class StepResult:
    changes: list[ChangeEvent] = field(default_factory=list)
    drift: list[DriftEvent] = field(default_factory=list)
    patterns: list[PatternEvent] = field(default_factory=list)
    decisions: list[PolicyDecision] = field(default_factory=list)
    actions: list[ActionRequest] = field(default_factory=list)
    ocsf: list[dict[str, Any]] = field(default_factory=list)  # what the worker puts on elava.ocsf
    waste: list[WasteFinding] = field(default_factory=list)


# The story takes minutes, not days: anything unattached is waste at once.
# Patterns across resources are judged as soon as the worker has published a change.
DEMO_SETTINGS = {"analyzer__waste__idle_threshold": "0s", "analyzer__patterns__fleet_settle": "0s"}


class EmbeddedDriver:
    name = "embedded"

    def __init__(self, store_path: Path) -> None:
        self._kv = RocksKV.for_scan(store_path)
        self.store = VersionStore(self._kv)
        settings = load_settings(None, **DEMO_SETTINGS)
        self.policies = isolated_policies_for(settings.policies)
        self.sink = EmbeddedPipeline(self.store, self.policies, settings.analyzer)
        self.severities = policy_severities(settings.policies)

    async def start(self) -> None:
        return None

    async def results(self) -> StepResult:
        self.sink.finish()
        outputs = self.sink.outputs
        result = StepResult(list(outputs.changes), list(outputs.drift), list(outputs.patterns),
                            list(outputs.decisions), list(outputs.actions), waste=list(outputs.waste))
        events = [*outputs.drift, *outputs.patterns, *outputs.attributed, *outputs.decisions, *outputs.waste]
        result.ocsf = [ocsf for event in events for ocsf in ocsf_events_for(event, self.severities)]
        outputs.clear()
        return result

    async def stop(self) -> None:
        self._kv.close()
        if self.policies is not None:
            self.policies.close()


class KafkaDriver:
    """Publishes like `elava collect`, runs `elava worker` (and so its policy stage) beside it,
    reads their outputs."""

    name = "kafka"

    def __init__(self, bootstrap_servers: str, work_dir: Path, settle_timeout: float = 120.0) -> None:
        run = f"elava-demo-{uuid.uuid4().hex[:8]}"
        self.settings: Settings = load_settings(
            None, kafka__bootstrap_servers=bootstrap_servers, kafka__topic_prefix=run,
            kafka__partitions=4, worker__app_id=run, policies__app_id=f"{run}-policies",
            analyzer__patterns__fleet_app_id=f"{run}-fleet", analyzer__drift__app_id=f"{run}-drift",
            worker__data_dir=str(work_dir / "worker"), worker__web_port=free_port(),
            # The demo's own signing key: its policy stage signs action requests as a real one does.
            signing__key_id="demo", signing__keys={"demo": secrets.token_hex(32)}, **DEMO_SETTINGS)
        self.topics = Topics(self.settings.kafka)
        self.settle_timeout = settle_timeout
        self._producer = new_producer(self.settings.kafka)
        self._consumer: AIOKafkaConsumer | None = None
        self.worker = WorkerProcess(self.settings, work_dir / "worker.log")
        self.sink = KafkaSink(self._producer, self.topics)

    async def start(self) -> None:
        await ensure_topics(self.settings.kafka)
        await self._producer.start()
        self.worker.start()
        self._consumer = new_consumer(self.settings.kafka, auto_offset_reset="earliest")
        await self._consumer.start()
        parts = [TopicPartition(t, p) for t in self._read_topics()
                 for p in range(self.settings.kafka.partitions)]
        self._consumer.assign(parts)

    async def results(self) -> StepResult:
        await self._producer.flush()
        await wait_until_processed(self.settings, self.worker, timeout=self.settle_timeout)
        if self.settings.policies.enabled:  # the stage decides once the worker has published
            await wait_until_decided(self.settings, self.worker, timeout=self.settle_timeout)
        await wait_until_drift_judged(self.settings, self.worker, timeout=self.settle_timeout)
        await wait_until_judged(self.settings, self.worker, timeout=self.settle_timeout)
        return await self._drain()

    def _read_topics(self) -> dict[str, tuple[str, Any]]:
        """Topic -> (StepResult field, parser of a value)."""
        return {self.topics.changes: ("changes", ChangeEvent.from_bytes), self.topics.drift: ("drift", DriftEvent.from_bytes),
                self.topics.patterns: ("patterns", PatternEvent.from_bytes),
                self.topics.policy_decisions: ("decisions", PolicyDecision.from_bytes),
                self.topics.actions: ("actions", ActionRequest.from_bytes), self.topics.ocsf: ("ocsf", orjson.loads),
                self.topics.waste: ("waste", WasteFinding.from_bytes)}

    async def _drain(self) -> StepResult:
        """Everything the step published, read to the topics' end offsets (taken after the worker
        and its stages committed, so after their outputs were delivered): a quiet moment on a busy
        broker is not the end."""
        result, read = StepResult(), self._read_topics()
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        while [tp for tp, end in ends.items() if await self._consumer.position(tp) < end]:
            if loop.time() > deadline:
                raise ElavaError(f"the demo's outputs were not read to their end in {self.settle_timeout:.0f} s")
            batch = await self._consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                name, parse = read[tp.topic]
                getattr(result, name).extend(parse(record.value) for record in records)
        return result

    async def stop(self) -> None:
        self.worker.stop()
        if self._consumer is not None:
            await self._consumer.stop()
        await self._producer.stop()
