"""What a stage's fetch costs the broker: aiokafka's default fetch beside the stages' batched one.

    python -m tests.bench.bench_stage_fetch [--seconds 20 --repeats 6 --bootstrap HOST:PORT]

A producer appends records as the worker appends its outputs (40 records of 1.2 KB every
25 ms, linger 5 ms, acks=all, idempotent) to an 8-partition topic; one consumer in a group
of its own follows it, polling and committing as the policy stage does. Each repeat runs
both fetch settings one after the other (the order alternates), on a fresh topic each, and
reads the broker's CPU over each (the one JVM running ``kafka.Kafka``: started here with
``deploy/kafka/kafka.sh`` unless ``--bootstrap`` names a running one). The first repeat
warms the broker's JIT; the summary leaves it out. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from elava.kafka.clients import STAGE_FETCH
from tests.bench.bench_pipeline import broker
from tests.bench.machine import MachineCpu

SETTINGS = {"default": {}, "stage": STAGE_FETCH}
RECORDS_PER_BATCH, BATCH_PAUSE_S, RECORD_BYTES = 40, 0.025, 1200


async def one_run(bootstrap: str, name: str, seconds: float, machine: MachineCpu) -> dict:
    topic = f"bench-stage-fetch-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 8, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=topic, auto_offset_reset="earliest",
                                enable_auto_commit=False, **SETTINGS[name])
    await producer.start()
    await consumer.start()
    try:
        before, started = machine.read(), time.perf_counter()
        sent, (received, polls) = await asyncio.gather(produce(producer, topic, seconds), follow(consumer, seconds))
        figures = machine.read().since(before, time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"fetch": name, "sent": sent, "received": received, "polls": polls,
            "broker_cpu_s": figures["broker_cpu_s"], "client_cpu_s": figures["benchmark_cpu_s"]}


async def produce(producer: AIOKafkaProducer, topic: str, seconds: float) -> int:
    value, sent, stop = os.urandom(RECORD_BYTES), 0, time.monotonic() + seconds
    while time.monotonic() < stop:
        for _ in range(RECORDS_PER_BATCH):
            await producer.send(topic, value, key=str(sent).encode())
            sent += 1
        await asyncio.sleep(BATCH_PAUSE_S)
    await producer.flush()
    return sent


async def follow(consumer: AIOKafkaConsumer, seconds: float) -> tuple[int, int]:
    received, polls, stop = 0, 0, time.monotonic() + seconds + 1.0  # a second more to read the tail
    while time.monotonic() < stop:
        batch = await consumer.getmany(timeout_ms=500, max_records=500)
        polls += 1
        received += sum(len(records) for records in batch.values())
        if batch:
            await consumer.commit()
    return received, polls


async def main_async(bootstrap: str, seconds: float, repeats: int) -> list[dict]:
    machine, runs = MachineCpu(), []
    for repeat in range(repeats):
        for name in ("default", "stage") if repeat % 2 == 0 else ("stage", "default"):
            runs.append({"repeat": repeat, **await one_run(bootstrap, name, seconds, machine)})
    return runs


def summary(runs: list[dict]) -> dict:
    warm = [run for run in runs if run["repeat"] > 0]
    by = {name: [run for run in warm if run["fetch"] == name] for name in SETTINGS}
    out = {name: {"broker_cpu_s_median": statistics.median(r["broker_cpu_s"] for r in rs),
                  "client_cpu_s_median": statistics.median(r["client_cpu_s"] for r in rs),
                  "polls_median": statistics.median(r["polls"] for r in rs)}
           for name, rs in by.items() if rs and all(r["broker_cpu_s"] is not None for r in rs)}
    pairs = [(d["broker_cpu_s"], s["broker_cpu_s"]) for d, s in zip(by["default"], by["stage"], strict=False)]
    out["pairs_with_less_broker_cpu_for_stage"] = f"{sum(s < d for d, s in pairs)} of {len(pairs)}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--bootstrap", help="a running broker; default: start one with deploy/kafka/kafka.sh")
    args = parser.parse_args()
    with broker(args.bootstrap) as (bootstrap, version):
        runs = asyncio.run(main_async(bootstrap, args.seconds, args.repeats))
    print(json.dumps({"kafka": version, "stage_fetch": STAGE_FETCH, "record_bytes": RECORD_BYTES,
                      "records_per_s_offered": round(RECORDS_PER_BATCH / BATCH_PAUSE_S),
                      "runs": runs, "summary": summary(runs), "load_average_at_end": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
