"""The worker's two ways of reading a page, side by side on a noisy machine.

Two partition stores take the same rounds (tests/bench/pipeline_data.py), message by
message in alternating order: one reads each page whole (``parse_observation_message``:
every resource validated), the other as the worker does (``read_observation_message``:
a ``RawPage``, only what differs from the store validated, streams/pages.py). Both share
the machine's noise at the same moments. Prints one JSON object: CPU per observation
(thread time) by round, parse and processing together, and the parse alone.

    python -m tests.bench.bench_page_read [--resources 20000] [--rounds 4] [--modified 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from streams.inputs import parse_observation_message, read_observation_message
from streams.process import PartitionProcessor
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from tests.bench.pipeline_data import build_rounds

READERS = {"whole": parse_observation_message, "lazy": read_observation_message}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modified", type=float, default=0.1)
    args = parser.parse_args()
    rounds = asyncio.run(build_rounds(args.resources, args.rounds, modified=args.modified, buckets=16, page_size=500))
    result: dict[str, list] = {f"{name}_{part}": [] for name in READERS for part in ("us_per_obs", "parse_us_per_obs")}
    with tempfile.TemporaryDirectory() as tmp:
        kvs = {name: RocksKV(Path(tmp) / name) for name in READERS}
        processors = {name: PartitionProcessor(VersionStore(kv)) for name, kv in kvs.items()}
        for round_ in rounds:
            total, parse = dict.fromkeys(READERS, 0.0), dict.fromkeys(READERS, 0.0)
            for n, message in enumerate(round_.messages):
                for name in (list(READERS) if n % 2 else list(reversed(READERS))):
                    started = time.thread_time()
                    event = READERS[name](message.key, message.value, message.headers)
                    parsed = time.thread_time()
                    processors[name].process(event)
                    total[name] += time.thread_time() - started
                    parse[name] += parsed - started
            for name in READERS:
                result[f"{name}_us_per_obs"].append(round(total[name] / round_.observations * 1e6, 1))
                result[f"{name}_parse_us_per_obs"].append(round(parse[name] / round_.observations * 1e6, 1))
        for kv in kvs.values():
            kv.close()
    print(json.dumps({"resources": args.resources, "modified": args.modified, **result,
                      "load_average_1m": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
