"""CPU of one partition's processing alone (streams/process.py), without Kafka or Faust.

The pipeline benchmark's rounds (tests/bench/pipeline_data.py: pages and markers as the
collector builds them) go through ``PartitionProcessor.process`` and then the waste stage
(streams/waste_stage.py), as the worker applies each input, over a ``RocksKV`` in a temp
dir, in one process: what the worker's agent spends on the core, without the broker's
noise. Prints one JSON object: process CPU per observation, by round.

    python -m tests.bench.bench_process [--resources 20000] [--rounds 4] [--modified 0.1] [--waste-sweep 1h]

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
from pathlib import Path

from elava.settings import WasteSettings
from streams.process import PartitionProcessor
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from streams.waste_stage import waste_findings
from tests.bench.pipeline_data import build_rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modified", type=float, default=0.1)
    parser.add_argument("--waste-sweep", default=None, help="analyzer.waste.sweep_interval (default: its default)")
    args = parser.parse_args()
    rounds = asyncio.run(build_rounds(args.resources, args.rounds, modified=args.modified, buckets=16,
                                      page_size=500, keep_objects=True))
    by_round = []
    with tempfile.TemporaryDirectory() as tmp:
        kv = RocksKV(Path(tmp) / "store")
        store = VersionStore(kv)
        waste = WasteSettings(sweep_interval=args.waste_sweep) if args.waste_sweep else WasteSettings()
        processor = PartitionProcessor(store)
        for round_ in rounds:
            started = time.process_time()
            for event in round_.objects:
                processor.process(event)
                waste_findings(store, waste, event)  # as the worker applies an input
            by_round.append(round((time.process_time() - started) / round_.observations * 1e6, 1))
        kv.close()
    print(json.dumps({"resources": args.resources, "waste_sweep_interval": str(waste.sweep_interval),
                      "cpu_us_per_observation_by_round": by_round,
                      "load_average_1m": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
