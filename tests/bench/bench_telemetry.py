"""What telemetry costs the worker's path per observation: bare, off (``none``) and on.

The pipeline benchmark's rounds (tests/bench/pipeline_data.py) go through what the worker
does with each input message that telemetry touches, in one process, without Kafka or
Faust: the record's span (``telemetry.consumed``), the core (``PartitionProcessor.process``
over a ``RocksKV``), each output event's bytes and headers (``cloudevent_headers``, which
adds ``traceparent``) and the counts (``telemetry.record_page``). Three modes, each over a
fresh store, interleaved ``--repeat`` times (the best run of each is kept: the least
disturbed by other load):

- ``bare``: the same path without any telemetry call (what the code cost before it);
- ``none``: telemetry calls with ``telemetry.traces/metrics: none`` (the default);
- ``on``: traces to a JSON-lines file on /dev/null and metrics to a Prometheus reader.

Faust's own ~200 µs per message is not in the denominator, so the ratios are upper bounds
of what the worker pays. Prints one JSON object.

    python -m tests.bench.bench_telemetry [--resources 5000] [--rounds 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

from elava import telemetry
from elava.demo.simulated import free_port
from elava.events import cloudevent_headers
from elava.settings import TelemetrySettings
from streams.process import PartitionProcessor
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from tests.bench.pipeline_data import Round, build_rounds

MODES = ("bare", "none", "on")


def handle(processor: PartitionProcessor, event, record, traced: bool) -> int:
    """One input message as the worker handles it; the number of output events."""
    with telemetry.consumed("elava.worker.process", record) if traced else nullcontext():
        produced = processor.process(event)
        outputs = 0
        for output in produced.events():
            output.to_bytes()
            cloudevent_headers(output, "elava/worker")
            outputs += 1
        if traced:
            telemetry.record_page(produced, event)
    return outputs


def run_mode(mode: str, rounds: list[Round]) -> float:
    """CPU seconds of every round, on a fresh store."""
    records = [[SimpleNamespace(topic="elava.observations", partition=0, offset=i, headers=m.headers)
                for i, m in enumerate(r.messages)] for r in rounds]
    with tempfile.TemporaryDirectory() as tmp:
        kv = RocksKV(Path(tmp) / "store")
        processor = PartitionProcessor(VersionStore(kv))
        started = time.process_time()
        for round_, round_records in zip(rounds, records, strict=True):
            for event, record in zip(round_.objects, round_records, strict=True):
                handle(processor, event, record, traced=mode != "bare")
        spent = time.process_time() - started
        kv.close()
    return spent


def configure(mode: str) -> None:
    if mode == "on":
        telemetry.configure(TelemetrySettings(traces="file", file_path=Path(os.devnull), metrics="prometheus",
                                              prometheus_port=free_port()), "bench")
    else:
        telemetry.shutdown()


def off_call_ns(calls: int = 200_000) -> float:
    """ns of the calls the worker makes per message while telemetry is off."""
    telemetry.shutdown()
    record = SimpleNamespace(topic="t", partition=0, offset=0, headers=[])
    started = time.perf_counter_ns()
    for _ in range(calls):
        with telemetry.consumed("elava.worker.process", record):
            telemetry.trace_headers()
            telemetry.record_page(None, None)
            telemetry.metering()
    return (time.perf_counter_ns() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = asyncio.run(build_rounds(args.resources, args.rounds, modified=0.1, buckets=16, page_size=500,
                                      keep_objects=True))
    best = {mode: float("inf") for mode in MODES}
    for _ in range(args.repeat):
        for mode in MODES:
            configure(mode)
            best[mode] = min(best[mode], run_mode(mode, rounds))
    telemetry.shutdown()
    observations, messages = sum(r.observations for r in rounds), sum(len(r.messages) for r in rounds)
    print(json.dumps({"resources": args.resources, "rounds": args.rounds, "repeat": args.repeat,
                      "messages": messages, "observations": observations,
                      "cpu_us_per_observation": {mode: round(s / observations * 1e6, 2) for mode, s in best.items()},
                      "cpu_us_per_message": {mode: round(s / messages * 1e6, 1) for mode, s in best.items()},
                      "off_vs_bare_percent": round((best["none"] / best["bare"] - 1) * 100, 2),
                      "on_vs_bare_percent": round((best["on"] / best["bare"] - 1) * 100, 2),
                      "off_calls_ns_per_message": round(off_call_ns(), 1),
                      "load_average_1m": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
