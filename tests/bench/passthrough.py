"""The ceiling for the worker: a raw aiokafka loop doing the least the worker must do.

It consumes the observations topic from the beginning, parses every message, compares
each resource's content hash with an in-memory dict, sends one message per created,
modified or deleted resource, and stops when it has reached the given end offsets.
No durable state, no changelog, no framework: what is left is Kafka I/O, parsing,
hashing and one output send per change.

``mode="orjson"`` parses with orjson only; ``mode="pydantic"`` parses the page with
the same pydantic models (and the same input checks) as the worker.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from elava.events import Observation
from streams.inputs import header, parse_observation_message
from tests.bench.machine import MachineCpu

FETCH_BYTES = 8 * 1024 * 1024
SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
OBSERVATION = Observation.ce_type.encode()


@dataclass
class PassthroughResult:
    mode: str
    messages: int = 0
    observations: int = 0
    sent: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    machine: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "mode": self.mode, "messages": self.messages, "observations": self.observations,
            "changes_sent": self.sent, "kinds": self.kinds, "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "observations_per_s": round(self.observations / self.wall_s) if self.wall_s else None,
            "cpu_us_per_observation": round(self.cpu_s / self.observations * 1e6, 2) if self.observations else None,
        } | self.machine


class _State:
    """uid -> (content hash, id), and shard -> uids: what deletion by marker needs."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[bytes, str]] = {}
        self.members: dict[str, set[str]] = {}

    def observe(self, shard: str, uid: str, ident: str, content_hash: bytes) -> str | None:
        old = self.heads.get(uid)
        if old is not None and old[0] == content_hash:
            return None
        self.heads[uid] = (content_hash, ident)
        if old is None:
            self.members.setdefault(shard, set()).add(uid)
            return "created"
        return "modified"

    def close(self, shard: str, seen: set[str]) -> list[str]:
        gone = [uid for uid in self.members.get(shard, ()) if self.heads[uid][1] not in seen]
        for uid in gone:
            self.members[shard].discard(uid)
            del self.heads[uid]
        return gone


def _hash(content: dict) -> bytes:
    return hashlib.blake2b(orjson.dumps(content, option=SORTED), digest_size=16).digest()


async def _handle_orjson(record, state: _State, send) -> int:
    data = orjson.loads(record.value)
    shard = data["shard"]
    if header(record.headers, "ce_type") != OBSERVATION:
        for uid in state.close(shard, set(data.get("ids") or ())) if data["status"] == "ok" else ():
            await send(uid, "deleted", {"uid": uid})
        return 0
    for resource in data["resources"]:
        content = {"name": resource.get("name"), "tags": resource.get("tags", {}),
                   "attributes": resource.get("attributes", {})}
        kind = state.observe(shard, resource["uid"], resource["id"], _hash(content))
        if kind is not None:
            await send(resource["uid"], kind, resource)
    return len(data["resources"])


async def _handle_pydantic(record, state: _State, send) -> int:
    event = parse_observation_message(record.key, record.value, record.headers)
    if not isinstance(event, Observation):
        for uid in state.close(event.shard, set(event.ids)) if event.status == "ok" else ():
            await send(uid, "deleted", {"uid": uid})
        return 0
    for resource in event.resources:
        kind = state.observe(event.shard, resource.uid, resource.id, resource.content_hash().encode())
        if kind is not None:
            await send(resource.uid, kind, resource.model_dump(mode="json"))
    return len(event.resources)


HANDLERS = {"orjson": _handle_orjson, "pydantic": _handle_pydantic}


async def passthrough(bootstrap: str, source: str, partitions: int, ends: dict[int, int], target: str,
                      mode: str) -> PassthroughResult:
    """Run one pass over ``source`` up to ``ends`` (partition -> end offset)."""
    handle, state, result = HANDLERS[mode], _State(), PassthroughResult(mode)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_bytes=FETCH_BYTES,
                                max_partition_fetch_bytes=FETCH_BYTES)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                linger_ms=5, max_request_size=4 * 1024 * 1024)
    await consumer.start()
    await producer.start()
    try:
        parts = [TopicPartition(source, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        position = {p: 0 for p in range(partitions)}

        async def send(uid: str, kind: str, body: dict) -> None:
            await producer.send(target, key=uid.encode(), value=orjson.dumps({"kind": kind, "resource": body}))
            result.kinds[kind] = result.kinds.get(kind, 0) + 1
            result.sent += 1

        started = cpu_started = machine_started = None
        machine = MachineCpu()
        while any(position[p] < end for p, end in ends.items()):
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if started is None and batch:
                started, cpu_started, machine_started = time.perf_counter(), time.process_time(), machine.read()
            for tp, records in batch.items():
                for record in records:
                    result.observations += await handle(record, state, send)
                    result.messages += 1
                position[tp.partition] = records[-1].offset + 1
        await producer.flush()
        if started is not None:
            result.wall_s = time.perf_counter() - started
            result.cpu_s = time.process_time() - cpu_started
            result.machine = machine.read().since(machine_started, result.wall_s)
        return result
    finally:
        await producer.stop()
        await consumer.stop()
