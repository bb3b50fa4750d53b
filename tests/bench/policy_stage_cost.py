"""The policy stage's own cost per change, without a broker: what `PolicyStage.handle` does
with one poll of records (parse, the evaluating child's round trip, the decisions' bytes,
headers, signatures and OCSF copies), measured as CPU seconds of the stage process and of
its evaluating child. The producer is a stand-in that only keeps what it is given: the
Kafka client's own cost is the pipeline benchmark's (bench_pipeline)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psutil
from aiokafka.structs import ConsumerRecord, TopicPartition

from elava.events import AttributedChange
from elava.settings import Settings
from streams.drivers.worker.policy_stage import BATCH_RECORDS, PolicyStage
from streams.policy.isolated import IsolatedPolicies


class KeptSends:
    """What the stage asks of aiokafka's producer: keeps every record batch it is given, each
    delivered at once."""

    def __init__(self) -> None:
        self.sent = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(8))

    def create_batch(self) -> list:
        return KeptBatch()

    async def send_batch(self, batch: list, topic: str, partition: int) -> asyncio.Future:
        self.sent += len(batch)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class KeptBatch(list):
    def append(self, timestamp: Any, key: bytes | None, value: bytes | None, headers: Any) -> bool:
        super().append(key)
        return True


def _records(changes: list[AttributedChange]) -> list[ConsumerRecord]:
    return [ConsumerRecord(topic="elava.attributed-changes", partition=0, offset=n, timestamp=0, timestamp_type=0,
                           key=c.change.uid.encode(), value=c.to_bytes(), checksum=None, serialized_key_size=0,
                           serialized_value_size=0, headers=()) for n, c in enumerate(changes)]


def stage_cost(settings: Settings, changes: list[AttributedChange]) -> dict[str, Any]:
    """µs of CPU per change in the stage and in its evaluating child, over polls of BATCH_RECORDS."""
    records = _records(changes)
    stage = PolicyStage(settings)
    stage.policies = IsolatedPolicies(settings.policies, recycle_after=10**9)  # no restart mid-measurement
    stage.producer = producer = KeptSends()
    child = psutil.Process(stage.policies._process.pid)
    try:
        asyncio.run(_handle_all(stage, records[:BATCH_RECORDS]))  # warm-up: the child's first evaluations
        child = psutil.Process(stage.policies._process.pid)
        producer.sent = 0
        child_before, own_before = sum(child.cpu_times()[:2]), time.process_time()
        wall = time.perf_counter()
        asyncio.run(_handle_all(stage, records))
        wall = time.perf_counter() - wall
        own, child_cpu = time.process_time() - own_before, sum(child.cpu_times()[:2]) - child_before
    finally:
        stage.policies.close()
    return {
        "engine": stage.policies.evaluator,
        "changes": len(records), "messages_published": producer.sent,
        "us_wall_per_change": round(wall / len(records) * 1e6, 1),
        "us_cpu_per_change_stage": round(own / len(records) * 1e6, 1),
        "us_cpu_per_change_evaluating_child": round(child_cpu / len(records) * 1e6, 1),
    }


async def _handle_all(stage: PolicyStage, records: list[ConsumerRecord]) -> None:
    partition = TopicPartition("elava.attributed-changes", 0)
    for start in range(0, len(records), BATCH_RECORDS):
        await stage.handle({partition: records[start:start + BATCH_RECORDS]})
