"""Latency from a CloudTrail event entering `elava.cloudtrail` to its attributed drift.

    python -m tests.bench.bench_latency [--events 200 --background 20000 --bootstrap HOST:PORT]

Phase 1 makes ``--events`` security groups drift (an SSH rule to 0.0.0.0/0) with no
trail yet, so their drift is unattributed. Phase 2 keeps the worker busy with
background rounds of ``--background`` unchanged observations (pages of 500, paced at
``--rate`` per second: a flood would measure the backlog, not the pipeline) while the
trail events of those changes are produced one by one, spread over the run. For each,
the latency is the drift record's timestamp (the worker's send) minus the trail
record's timestamp (our send): both CreateTime on this machine's clock. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from collectors.publish import KafkaSink
from elava.analyzer_events import DriftEvent
from elava.demo.simulated import free_port
from elava.events import Actor, Observation, Resource, TouchedResource, TrailEvent, cloudevent_headers
from elava.kafka.clients import ensure_topics, new_producer
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.settings import Settings, load_settings
from elava.sharding import shard_of
from elava.topics import Topics

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION, TYPE = "111122223333", "eu-west-1", "ec2.security-group"
SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
ALICE = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/alice", name="alice", kind="human")


def group(n: int, open_ssh: bool, team: str = "team") -> Resource:
    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-{n:08d}", type=TYPE, id=f"sg-{n:08d}",
                    account=ACCOUNT, region=REGION, name=f"g{n}", tags={"owner": team},
                    attributes={"ingress": [SSH] if open_ssh else [], "vpc_id": "vpc-1", "description": "x" * 600})


def pages(resources: list[Resource], settings: Settings, scan: str, at) -> list[Observation]:
    by_shard: dict[str, list[Resource]] = {}
    for r in resources:
        by_shard.setdefault(shard_of(r.uid, ACCOUNT, REGION, TYPE, settings.kafka.shard_buckets), []).append(r)
    out = []
    for shard, members in by_shard.items():
        for number, start in enumerate(range(0, len(members), settings.kafka.page_size)):
            out.append(Observation(scan_id=scan, account=ACCOUNT, region=REGION, type=TYPE, shard=shard,
                                   page=number, observed_at=at, resources=members[start:start + settings.kafka.page_size]))
    return out


async def publish(settings: Settings, observations: list[Observation], rate: float | None = None) -> None:
    """Publish pages, at most ``rate`` observations per second if given."""
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        sink = KafkaSink(producer, Topics(settings.kafka))
        started, done = time.monotonic(), 0
        for obs in observations:
            await sink.page(obs)
            done += len(obs.resources)
            if rate:
                await asyncio.sleep(max(0.0, started + done / rate - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()


async def background(settings: Settings, count: int, rate: float, modified: float, stop: asyncio.Event,
                     t0) -> int:
    """Rounds of ``count`` other resources at ``rate``/s until ``stop``, a ``modified`` share of
    them with a new owner tag each round (as in the pipeline benchmark); returns how many."""
    every = max(1, round(1 / modified)) if modified > 0 else 0
    sent, round_ = 0, 0
    while not stop.is_set():
        round_ += 1
        resources = [group(1_000_000 + n, False, f"team-{round_}" if every and n % every == round_ % every else "team")
                     for n in range(count)]
        await publish(settings, pages(resources, settings, f"bg-{round_}", t0 + timedelta(minutes=round_)), rate)
        sent += count
    return sent


async def trails(settings: Settings, events: int, t0, spacing: float) -> dict[str, float]:
    """Send one trail event per drifted group; returns event uid -> send time (ms)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, linger_ms=0)
    await producer.start()
    sent = {}
    try:
        for n in range(events):
            g = group(n, True)
            event = TrailEvent(trail_event_id=f"ct-{n}", event_name="AuthorizeSecurityGroupIngress",
                               event_source="ec2.amazonaws.com", event_time=t0 + timedelta(minutes=30),
                               account=ACCOUNT, region=REGION, actor=ALICE,
                               resource=TouchedResource(uid=g.uid, type=TYPE, id=g.id))
            key = shard_of(g.uid, ACCOUNT, REGION, TYPE, settings.kafka.shard_buckets).encode()
            meta = await producer.send_and_wait(Topics(settings.kafka).cloudtrail, value=event.to_bytes(), key=key,
                                                headers=cloudevent_headers(event, "bench"))
            sent[g.uid] = meta.timestamp
            await asyncio.sleep(spacing)
    finally:
        await producer.stop()
    return sent


async def attributed_drift(settings: Settings, expected: int, timeout: float) -> dict[str, float]:
    topic = Topics(settings.kafka).drift
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, float] = {}
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.kafka.partitions)])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while len(seen) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    drift = DriftEvent.from_bytes(record.value)
                    if drift.actor is not None and drift.uid not in seen:
                        seen[drift.uid] = record.timestamp
        return seen
    finally:
        await consumer.stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(bootstrap: str, events: int, background_size: int, rate: float, modified: float,
                  work: Path) -> dict:
    from tests.unit.streams.fixtures import T0

    run = f"latency-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run,
                             worker__app_id=run, worker__data_dir=str(work / "w"), worker__web_port=0,
                             policies__app_id=f"{run}-policies", analyzer__drift__app_id=f"{run}-drift")
    await ensure_topics(settings.kafka)
    worker = WorkerProcess(settings, work / "worker.log")
    worker.start()
    try:
        await publish(settings, pages([group(n, False) for n in range(events)], settings, "base", T0))
        await publish(settings, pages([group(n, True) for n in range(events)], settings, "drift", T0 + timedelta(hours=1)))
        # The background resources exist before the clock starts: what follows is steady rounds.
        await publish(settings, pages([group(1_000_000 + n, False) for n in range(background_size)], settings,
                                      "bg-0", T0 + timedelta(hours=1, minutes=30)))
        await wait_until_processed(settings, worker, timeout=300)
        stop = asyncio.Event()
        load = asyncio.create_task(background(settings, background_size, rate, modified, stop, T0 + timedelta(hours=2)))
        started = time.monotonic()
        await asyncio.sleep(2)  # let the background load build up first
        sent = await trails(settings, events, T0, spacing=0.05)
        drifts = await attributed_drift(settings, events, timeout=120)
        stop.set()
        observations = await load
        elapsed = time.monotonic() - started
        cpu = worker_cpu_seconds(worker)
    finally:
        worker.stop()
    latencies = [drifts[uid] - sent[uid] for uid in sent if uid in drifts]
    return {"events": events, "attributed": len(latencies), "background_observations": observations,
            "background_rate_per_s": round(observations / elapsed), "background_modified_share": modified,
            "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                           "p99": percentile(latencies, 0.99), "max": max(latencies)},
            "target_p95_ms": 1000, "worker_cpu_seconds": cpu}


def worker_cpu_seconds(worker: WorkerProcess) -> float | None:
    try:
        fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def run_broker(command: str, env: dict) -> None:
    subprocess.run(["bash", str(ROOT / "deploy/kafka/kafka.sh"), command], env=env, check=True,
                   capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--background", type=int, default=20_000, help="resources per background round")
    parser.add_argument("--rate", type=float, default=10_000, help="background observations per second")
    parser.add_argument("--modified", type=float, default=0.1, help="share of background resources changed per round")
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="elava-latency-") as tmp:
        env = {**os.environ, "KAFKA_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port()),
               "KAFKA_FRESH": "1", "ELAVA_KAFKA_RUN": str(Path(tmp) / "broker")}
        if not args.bootstrap:
            run_broker("start", env)
        try:
            bootstrap = args.bootstrap or f"127.0.0.1:{env['KAFKA_PORT']}"
            result = asyncio.run(measure(bootstrap, args.events, args.background, args.rate, args.modified, Path(tmp)))
        finally:
            if not args.bootstrap:
                run_broker("stop", env)
    result.update(machine={"cpus": os.cpu_count(), "python": platform.python_version()},
                  kafka=os.environ.get("KAFKA_VERSION", "3.9.1"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
