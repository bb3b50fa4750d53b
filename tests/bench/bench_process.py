"""CPU of one partition's processing alone (streams/process.py), without Kafka or Faust.

The pipeline benchmark's rounds (tests/bench/pipeline_data.py: pages and markers as the
collector builds them) go through ``PartitionProcessor.process`` and then the waste stage
(streams/waste_stage.py), as the worker applies each input, over a ``RocksKV`` in a temp
dir, in one process: what the worker's agent spends on the core, without the broker's
noise. Prints one JSON object: process CPU per observation, by round.

    python -m tests.bench.bench_process [--resources 20000] [--rounds 4] [--modified 0.1] [--waste-sweep 1h]
                                        [--from-bytes] [--outputs]

``--from-bytes`` counts the parsing too: each input is read from the bytes the collector
published, as the worker's agent reads it (``parse_message``), instead of the objects.
``--outputs`` also does the rest of what the worker's agent does with an input but Kafka's
own I/O: its writes gathered and flushed as one batch, and its output events serialised,
headed and batched by the worker's sinks for a producer that takes every batch at once.

Rounds are an hour apart: ``--waste-sweep`` (analyzer.waste.sweep_interval) longer than
that shows markers judging only the changed members between full sweeps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from elava.heap import settle_heap
from elava.settings import KafkaSettings, WasteSettings
from elava.topics import Topics
from streams.pages import RawPage
from streams.process import PartitionProcessor
from streams.store.batched import BatchedWrites
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from streams.waste_stage import waste_findings
from tests.bench.pipeline_data import Round, build_rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modified", type=float, default=0.1)
    parser.add_argument("--waste-sweep", default=None, help="analyzer.waste.sweep_interval (default: its default)")
    parser.add_argument("--from-bytes", action="store_true", help="parse each input as the worker does")
    parser.add_argument("--outputs", action="store_true",
                        help="batch the writes and serialise the outputs as the worker does (no broker)")
    args = parser.parse_args()
    rounds = asyncio.run(build_rounds(args.resources, args.rounds, modified=args.modified, buckets=16,
                                      page_size=500, keep_objects=True))
    inputs = worker_reader() if args.from_bytes else (lambda round_: round_.objects)
    by_round = []
    with tempfile.TemporaryDirectory() as tmp:
        kv = RocksKV(Path(tmp) / "store")
        store = VersionStore(kv)
        waste = WasteSettings(sweep_interval=args.waste_sweep) if args.waste_sweep else WasteSettings()
        apply = worker_apply(kv, waste) if args.outputs else core_apply(store, waste)
        # The worker's heap regime once it has started (elava/heap.py); the rounds built above are
        # the benchmark's, kept to the end: at Python's thresholds full collections walked them
        # mid-round (0.32 s of a 2.5 s steady round in one run), which the worker never does.
        settle_heap()
        for round_ in rounds:
            started = time.process_time()
            for event in inputs(round_):
                apply(event)
            by_round.append(round((time.process_time() - started) / round_.observations * 1e6, 1))
        kv.close()
    print(json.dumps({"resources": args.resources, "waste_sweep_interval": str(waste.sweep_interval),
                      "from_bytes": args.from_bytes, "outputs": args.outputs,
                      "cpu_us_per_observation_by_round": by_round, "load_average_1m": os.getloadavg()[0]}))


def core_apply(store: VersionStore, waste: WasteSettings) -> Callable[[Any], None]:
    processor = PartitionProcessor(store)

    def apply(event: Any) -> None:
        processor.process(event)
        waste_findings(store, waste, event)  # as the worker applies an input
    return apply


def worker_apply(kv: RocksKV, waste: WasteSettings) -> Callable[[Any], None]:
    """An input applied as the worker's agent applies it (streams/drivers/worker/app.py ``_apply``),
    its writes one batch, its outputs handed to a producer that keeps nothing."""
    from streams.drivers.worker.batch_send import BatchedSends
    from streams.drivers.worker.sinks import WorkerSinks
    from tests.bench.policy_stage_cost import KeptSends

    producer = KeptSends()
    sends = BatchedSends(lambda: producer)
    sinks = WorkerSinks.on(Topics(KafkaSettings()), sends, "bench")
    loop = asyncio.new_event_loop()

    async def publish(read: Any, produced: Any) -> None:
        await sinks.publish(read, produced)
        await sends.flush()

    def apply(event: Any) -> None:
        writes = BatchedWrites(kv)
        store = VersionStore(writes)
        produced = PartitionProcessor(store).process(event)
        read = event.header if isinstance(event, RawPage) else event
        produced.waste.extend(waste_findings(store, waste, read))
        writes.flush()
        loop.run_until_complete(publish(read, produced))
    return apply


def worker_reader() -> Callable[[Round], Iterator[Any]]:
    """A round's inputs parsed from their bytes by the worker's own parser, one at a time (so timed)."""
    from streams.drivers.worker.app import parse_message  # loads Faust: only when asked, before timing

    topic = Topics(KafkaSettings()).observations

    def reads(round_: Round) -> Iterator[Any]:
        for message in round_.messages:
            yield parse_message(SimpleNamespace(topic=topic, key=message.key, value=message.value,
                                                headers=message.headers), cloudtrail_topic="")
    return reads


if __name__ == "__main__":
    main()
