"""CPU of the fleet-pattern stage's own work, without a broker: `FleetStage.handle` over polls of
the attributed changes the worker publishes for the pipeline benchmark's rounds.

    python -m tests.bench.bench_fleet [--resources 100000] [--rounds 4] [--modified 0.1] [--poll 2000]

The attributed changes are made by the worker's core (streams/process.py) from the same pages
as `bench_pipeline` and kept as their bytes; then, timed, the stage takes them round by round
in polls of ``--poll`` records spread over 8 partitions, its clock fixed 5 hours after the
first round (every change inside its lookback, whatever the time of day). The producer and
the commit are stand-ins. Prints one JSON object: CPU seconds and µs per change, by round, and
what the window holds at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from elava.settings import KafkaSettings, load_settings
from elava.topics import Topics
from streams.drivers.worker import fleet_stage
from streams.drivers.worker.fleet_stage import FleetStage, PartitionReads
from streams.drivers.worker.sinks import WorkerSinks
from streams.pages import RawPage
from streams.process import PartitionProcessor
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore, to_micros
from tests.bench.bench_process import worker_reader
from tests.bench.pipeline_data import T0, Round, build_rounds

PARTITIONS = 8


class _AttributedKept:
    """The worker's batched sends, keeping the attributed changes' bytes only."""

    def __init__(self, topic: str) -> None:
        self.topic, self.values = topic, []

    async def add_keyed(self, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> None:
        if topic == self.topic:
            self.values.append(value)


class _Delivered:
    """The stage's producer and consumer: every send delivered at once, every commit taken."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                   headers: Any = None) -> asyncio.Future:
        self.sent += 1
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def commit(self, offsets: dict) -> None:
        return None


def attributed_changes(rounds: list[Round]) -> list[list[bytes]]:
    """Each round's attributed changes as the worker publishes them (the core over a temp store)."""
    topics = Topics(KafkaSettings())
    reads, loop, by_round = worker_reader(), asyncio.new_event_loop(), []
    with tempfile.TemporaryDirectory() as tmp:
        kv = RocksKV(Path(tmp) / "store")
        processor = PartitionProcessor(VersionStore(kv))
        for round_ in rounds:
            kept = _AttributedKept(topics.attributed_changes)
            sinks = WorkerSinks.on(topics, kept, "bench")
            for parsed in reads(round_):
                read = parsed.header if isinstance(parsed, RawPage) else parsed
                loop.run_until_complete(sinks.publish(read, processor.process(parsed)))
            by_round.append(kept.values)
        kv.close()
    loop.close()
    return by_round


async def judge_rounds(by_round: list[list[bytes]], poll: int) -> dict:
    stage, delivered = FleetStage(load_settings(None)), _Delivered()
    stage.producer = stage.consumer = delivered
    parts = [TopicPartition("attributed", p) for p in range(PARTITIONS)]
    stage.reads = PartitionReads({tp: 0 for tp in parts}, {tp: 0 for tp in parts}, {tp: None for tp in parts})
    offsets = dict.fromkeys(parts, 0)
    figures = []
    for values in by_round:
        started = time.process_time()
        for first in range(0, len(values), poll):
            batch: dict[TopicPartition, list] = {}
            for n, value in enumerate(values[first:first + poll]):
                tp = parts[(first + n) % PARTITIONS]
                batch.setdefault(tp, []).append(SimpleNamespace(value=value, offset=offsets[tp], timestamp=None,
                                                                topic=tp.topic, partition=tp.partition))
                offsets[tp] += 1
            await stage.handle(batch)
        cpu = time.process_time() - started
        figures.append({"changes": len(values), "cpu_s": round(cpu, 3),
                        "cpu_us_per_change": round(cpu / max(1, len(values)) * 1e6, 1)})
    return {"rounds": figures, "kept_at_end": len(stage.window.items), "patterns_sent": delivered.sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modified", type=float, default=0.1)
    parser.add_argument("--poll", type=int, default=fleet_stage.BATCH_RECORDS, help="records per poll")
    args = parser.parse_args()
    rounds = asyncio.run(build_rounds(args.resources, args.rounds, modified=args.modified, buckets=16,
                                      page_size=500, keep_objects=False))
    by_round = attributed_changes(rounds)
    clock = to_micros(T0 + timedelta(hours=5))
    fleet_stage.now_micros = lambda: clock  # the stage's clock, fixed (module-level: read at each poll)
    result = asyncio.run(judge_rounds(by_round, args.poll))
    print(json.dumps({"resources": args.resources, "poll": args.poll, **result,
                      "load_average_1m": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
