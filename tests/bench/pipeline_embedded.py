"""The pipeline benchmark's embedded driver, in a process of its own (as `elava scan` runs).

    python -m tests.bench.pipeline_embedded --resources 100000 --rounds 4 --modified 0.1 --work-dir DIR

bench_pipeline runs it last, once its broker is stopped, on the same pages (the rounds are
built again from the same seed). EmbeddedPipeline over RocksKV in ``--work-dir``, the
shipped policies in their own process (``--no-policies``: none). Prints one JSON object:
totals and, per round, wall, CPU, GC and the machine's busy cores (and a broker's CPU, if
one runs beside it).

``--shard-group K/N`` keeps only the shards of group K of N (their pages and markers), and
``--ready FILE --go FILE`` says when its rounds are built and waits to start: how
tests/bench/embedded_split.py measures a scan whose shards are split over N processes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from pathlib import Path

from elava.events import stable_hash
from elava.settings import load_settings
from tests.bench.machine import MachineCpu
from tests.bench.pipeline_data import Round, build_rounds


class GcTimer:
    """Seconds this process spent in the garbage collector while it is entered."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


async def embedded(rounds: list[Round], work_dir: Path, settings) -> dict:
    """The embedded driver on the same pages (parsed before the clock starts, as a
    collector hands it objects); parsing is timed apart. Per round: wall, CPU, GC and
    what the machine (and a broker, if one runs) spent beside it."""
    from streams.drivers.embedded.pipeline import EmbeddedPipeline
    from streams.inputs import parse_observation_message
    from streams.policy.isolated import isolated_policies_for
    from streams.store.kv import RocksKV
    from streams.store.versioned import VersionStore

    kv = RocksKV.for_scan(work_dir / "embedded-store")  # as `elava scan` opens it
    policies = isolated_policies_for(settings.policies)
    pipeline = EmbeddedPipeline(VersionStore(kv), policies)
    machine_cpu = MachineCpu()
    wall = cpu = parse_cpu = 0.0
    kinds: dict[str, int] = {}
    per_round = []
    observations = 0
    try:
        for round_ in rounds:
            started = time.process_time()
            events = [parse_observation_message(m.key, m.value, m.headers) for m in round_.messages]
            parse_cpu += time.process_time() - started
            before = machine_cpu.read()
            wall_started, cpu_started = time.perf_counter(), time.process_time()
            with GcTimer() as gc_timer:
                for message, event in zip(round_.messages, events, strict=True):
                    if message.observations:
                        await pipeline.page(event)
                    else:
                        await pipeline.marker(event)
                pipeline.settle()  # the decisions on the round's last page, as a scan's finish() takes them
            round_wall, round_cpu = time.perf_counter() - wall_started, time.process_time() - cpu_started
            per_round.append({"observations_per_s": round(round_.observations / round_wall),
                              "wall_s": round(round_wall, 2), "cpu_s": round(round_cpu, 2),
                              "gc_s": round(gc_timer.seconds, 2),
                              **machine_cpu.read().since(before, round_wall)})
            wall += round_wall
            cpu += round_cpu
            observations += round_.observations
            for change in pipeline.outputs.changes:
                kinds[change.kind] = kinds.get(change.kind, 0) + 1
            pipeline.outputs.clear()
            del events
    finally:
        kv.close()
        if policies is not None:
            policies.close()
    return {"observations": observations, "changes": kinds, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "observations_per_s": round(observations / wall),
            "cpu_us_per_observation": round(cpu / observations * 1e6, 2),
            "pydantic_parse_us_per_observation": round(parse_cpu / observations * 1e6, 2),
            "gc_s": round(sum(r["gc_s"] for r in per_round), 2), "rounds": per_round}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modified", type=float, default=0.1)
    parser.add_argument("--shard-buckets", type=int, required=True)
    parser.add_argument("--page-size", type=int, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--no-policies", action="store_true")
    parser.add_argument("--shard-group", default="0/1", help="K/N: only the shards of group K of N")
    parser.add_argument("--ready", type=Path, help="a file made once the rounds are built")
    parser.add_argument("--go", type=Path, help="a file to wait for before the first round")
    return parser.parse_args(argv)


def in_group(rounds: list[Round], group: str) -> list[Round]:
    """The rounds with only the pages and markers of shard group ``K/N`` (by the shard, the key)."""
    k, n = (int(part) for part in group.split("/"))
    if not 0 <= k < n:
        raise SystemExit(f"--shard-group {group}: K must be 0..N-1")
    for round_ in rounds:
        round_.messages = [m for m in round_.messages if stable_hash(m.key.decode()) % n == k]
    return rounds


async def wait_for(go: Path) -> None:
    while not go.exists():
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> dict:
    # The settings the benchmark read (file, environment), with its --no-policies.
    settings = load_settings(None, **({"policies__enabled": False} if args.no_policies else {}))
    rounds = in_group(await build_rounds(args.resources, args.rounds, modified=args.modified,
                                         buckets=args.shard_buckets, page_size=args.page_size), args.shard_group)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.ready is not None:
        args.ready.touch()
    if args.go is not None:
        await wait_for(args.go)
    return await embedded(rounds, args.work_dir, settings)


def main(argv: list[str] | None = None) -> None:
    print(json.dumps(asyncio.run(run(parse_args(argv)))))


if __name__ == "__main__":
    main()
