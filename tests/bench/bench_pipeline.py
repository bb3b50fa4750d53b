"""Benchmark of the whole pipeline on the real broker: one `elava worker` process.

    python -m tests.bench.bench_pipeline [--resources 100000 --rounds 4 --bootstrap HOST:PORT]

Without ``--bootstrap`` it starts its own broker with ``deploy/kafka/kafka.sh`` on a
free port (``KAFKA_VERSION`` picks the version) and stops it at the end.

Scenario: ``--resources`` ~1 KB instances and security groups over 3 accounts, 2
regions, 2 types; round 1 sees all of them new, every later round sees them all
again with ``--modified`` of them changed. The collector's own batcher pages them by
shard (settings' ``shard_buckets``, ``page_size``) and closes every shard with an ok
marker; the bytes are what ``KafkaSink`` publishes. Measured:

- worker (``--mode paused``, the default): after a warm-up message, the worker is
  paused (SIGSTOP) while a whole round is produced, then resumed and timed until its
  committed offsets reach the end of the round; per round and in total:
  observations/s, CPU seconds of the worker process per observation; its RSS at the
  end, change events checked against the expected count, table writes (changelog
  records) per change. The policy stage the worker runs beside itself is not paused
  and not waited for: its CPU per round, and after the last round how long it took to
  decide every attributed change (``worker.policy_stage``). ``--mode continuous`` produces every round before the worker
  starts and times it from its first output until everything is committed;
- the raw aiokafka passthrough on the same messages (tests/bench/passthrough.py),
  orjson and pydantic parsing: the ceiling, and the ratio worker/raw; orjson once more
  after the others (``raw_end``), so the machine's drift within the run shows;
- the embedded driver (EmbeddedPipeline over RocksKV in a temp dir) on the same pages, as
  `elava scan` runs: in a process of its own (tests/bench/pipeline_embedded.py), after the
  benchmark's broker is stopped; per round too, with its GC time and the machine's busy cores.

``--py-spy FILE`` also samples the worker with py-spy (collapsed stacks, ``--format
raw``); it slows the worker a little, so take figures from a run without it.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from elava.demo.simulated import free_port
from elava.kafka.clients import ensure_topics, new_producer
from elava.settings import Settings, load_settings
from elava.topics import Topics
from tests.bench.passthrough import passthrough
from tests.bench.pipeline_data import Message, Round, build_rounds
from tests.bench.pipeline_worker import changelog_by_keyspace, measure_worker

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"
TARGET_RATE = 50_000
TARGET_RATIO = 0.30


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in _run(["lscpu"]).splitlines()
                  if line.startswith("Model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"nproc": int(_run(["nproc"]).strip() or os.cpu_count()), "cpu": model,
            "ram_gib": round(mem_kb / 1024 / 1024, 1), "python": platform.python_version(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2)}


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


@contextmanager
def broker(bootstrap: str | None):
    """The given broker, or one of our own on free ports (stopped on the way out). Its data lives in
    a temporary folder, as bench_latency's and bench_queries' do: a run killed before it cleans up
    leaves it under the system's temp dir, not among the cached brokers of kafka.sh."""
    if bootstrap:
        yield bootstrap, os.environ.get("KAFKA_VERSION", "external (not started by the benchmark)")
        return
    version = os.environ.get("KAFKA_VERSION", "3.9.1")
    with tempfile.TemporaryDirectory(prefix="elava-bench-broker-") as run_dir:
        env = {**os.environ, "KAFKA_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port()),
               "KAFKA_FRESH": "1", "KAFKA_VERSION": version, "ELAVA_KAFKA_RUN": run_dir}
        started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True)
        try:
            if started.returncode != 0:
                raise SystemExit(f"could not start a broker:\n{started.stdout}\n{started.stderr}")
            yield f"127.0.0.1:{env['KAFKA_PORT']}", version
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True)


class Publisher:
    """Publishes encoded messages to the observations topic; the end offsets after each batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = Topics(settings.kafka).observations
        self.producer = new_producer(settings.kafka)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
        self.messages, self.wall = 0, 0.0
        self.ends: dict[int, int] = {}

    async def start(self) -> None:
        await ensure_topics(self.settings.kafka)
        await self.producer.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def __call__(self, messages: list[Message]) -> dict[int, int]:
        started = time.perf_counter()
        for message in messages:
            await self.producer.send(self.topic, key=message.key, value=message.value, headers=message.headers)
        await self.producer.flush()
        self.wall += time.perf_counter() - started
        self.messages += len(messages)
        parts = [TopicPartition(self.topic, p) for p in range(self.settings.kafka.partitions)]
        self.ends = {tp.partition: offset for tp, offset in (await self.consumer.end_offsets(parts)).items()}
        return self.ends

    def summary(self) -> dict:
        return {"messages": self.messages, "wall_s": round(self.wall, 2),
                "messages_per_s": round(self.messages / self.wall) if self.wall else None}


async def raw_ceiling(settings: Settings, ends: dict[int, int], modes: list[str], label: str = "") -> dict:
    kafka = settings.kafka
    topics = Topics(kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    from aiokafka.admin import NewTopic

    results = {}
    await admin.start()
    try:
        for mode in modes:
            target = f"{kafka.topic_prefix}.bench-raw-{mode}{label}"
            await admin.create_topics([NewTopic(target, kafka.partitions, 1)])
            await asyncio.sleep(1.0)  # leaders
            result = await passthrough(kafka.bootstrap_servers, topics.observations, kafka.partitions,
                                       ends, target, mode)
            results[mode] = result.summary()
    finally:
        await admin.close()
    return results


def embedded_apart(args: argparse.Namespace, scenario: dict, work_dir: Path) -> dict:
    """The embedded driver as `elava scan` runs it, on the same pages (built again from the same
    seed): in a process of its own, not in this one, whose heap and allocator carry the
    producer, the offsets watcher and the raw passthrough by then; and after the broker the
    benchmark started is stopped (docs/benchmarks.md: an idle broker beside it cost round 1 a
    fifth or more)."""
    command = [sys.executable, "-m", "tests.bench.pipeline_embedded", "--resources", str(args.resources),
               "--rounds", str(args.rounds), "--modified", str(args.modified),
               "--shard-buckets", str(scenario["shard_buckets"]), "--page-size", str(scenario["page_size"]),
               "--work-dir", str(work_dir / "embedded")]
    if args.no_policies:
        command.append("--no-policies")
    done = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE)
    return json.loads(done.stdout)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modified", type=float, default=0.1, help="share changed in every later round")
    parser.add_argument("--bootstrap", help="a running broker; default: start one with deploy/kafka/kafka.sh")
    parser.add_argument("--partitions", type=int, help="default: the settings' kafka.partitions")
    parser.add_argument("--raw", default="orjson,pydantic", help="passthrough modes, comma-separated ('' for none)")
    parser.add_argument("--no-embedded", action="store_true")
    parser.add_argument("--no-policies", action="store_true", help="run without the shipped policies")
    parser.add_argument("--py-spy", type=Path, help="record the worker with py-spy into this file (raw format)")
    parser.add_argument("--py-spy-from", type=int, default=0, metavar="ROUND",
                        help="start py-spy with this round (0-based; 0: from the worker's start)")
    parser.add_argument("--mode", choices=["paused", "continuous"], default="paused",
                        help="paused: each round produced while the worker is paused (SIGSTOP), then timed "
                             "until committed; continuous: every round produced before the worker starts")
    parser.add_argument("--timeline", type=Path, help="write the worker's CPU samples (0.1 s) and round spans here")
    parser.add_argument("--probe", action="store_true",
                        help="run the worker through tests/bench/worker_probe.py (timers around the agent)")
    parser.add_argument("--keep", type=Path, help="keep the worker's data dir and log under this directory")
    parser.add_argument("--changelog-keyspaces", action="store_true",
                        help="read the table's changelog back and count its records by keyspace "
                             "(worker.outputs.changelog_by_keyspace)")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, bootstrap: str, work_dir: Path) -> dict:
    name = f"elava-bench-{uuid.uuid4().hex[:8]}"
    overrides = {"kafka__partitions": args.partitions} if args.partitions else {}
    if args.no_policies:
        overrides["policies__enabled"] = False
    settings = load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=name,
                             worker__app_id=name, policies__app_id=f"{name}-policies", analyzer__drift__app_id=f"{name}-drift",
                             worker__data_dir=str(work_dir / "worker"),
                             worker__session_timeout="60s", worker__web_port=free_port(), **overrides)
    kafka = settings.kafka
    started = time.perf_counter()
    rounds = await build_rounds(args.resources, args.rounds, modified=args.modified,
                                buckets=kafka.shard_buckets, page_size=kafka.page_size)
    scenario = scenario_of(args, settings, rounds, time.perf_counter() - started)
    publisher = Publisher(settings)
    await publisher.start()
    try:
        worker = await measure_worker(settings, rounds, work_dir, publisher, mode=args.mode,
                                      py_spy=args.py_spy, py_spy_from=args.py_spy_from,
                                      timeline=args.timeline, probe=args.probe)
    finally:
        await publisher.stop()
    if args.changelog_keyspaces:
        worker["outputs"]["changelog_by_keyspace"] = await changelog_by_keyspace(settings)
    modes = [m for m in args.raw.split(",") if m]
    raw = await raw_ceiling(settings, publisher.ends, modes) if modes else {}
    result = {"machine": machine(), "scenario": scenario, "produce": publisher.summary(), "worker": worker,
              "raw": raw}
    if "orjson" in modes:  # again, last on the broker: how far the machine moved within the run
        result["raw_end"] = await raw_ceiling(settings, publisher.ends, ["orjson"], "-end")
    result["verdict"] = verdict(worker, raw, result.get("raw_end", {}))
    return result


def scenario_of(args: argparse.Namespace, settings: Settings, rounds: list[Round], build_s: float) -> dict:
    return {
        "resources": args.resources, "rounds": args.rounds, "modified_per_later_round": args.modified,
        "partitions": settings.kafka.partitions, "shard_buckets": settings.kafka.shard_buckets,
        "page_size": settings.kafka.page_size, "observations": sum(r.observations for r in rounds),
        "pages_per_round": [r.pages for r in rounds], "markers_per_round": [r.markers for r in rounds],
        "mean_observations_per_page": round(sum(r.observations for r in rounds) / sum(r.pages for r in rounds), 1),
        "mb_per_round": round(rounds[0].bytes / 1e6, 1),
        "expected_changes": {"created": sum(r.expected_created for r in rounds),
                             "modified": sum(r.expected_modified for r in rounds)},
        "production": {"paused": "each round produced while the worker is paused, then timed to its commit",
                       "continuous": "every round produced before the worker starts"}[args.mode],
        "build_s": round(build_s, 1),
        "policies": ("shipped policies evaluated on every change, by the policy stage beside the worker"
                     if settings.policies.enabled else "off"),
    }


def verdict(worker: dict, raw: dict, raw_end: dict | None = None) -> dict:
    """The worker's ratios to the raw passthrough measured after it (``raw``), and to the one
    measured again after the other passthroughs (``raw_end``, ``..._end``): their spread is the machine's."""
    rate = worker["observations_per_s"]
    out = {"target_observations_per_s": TARGET_RATE, "meets_rate": rate >= TARGET_RATE,
           "target_ratio_to_raw": TARGET_RATIO, "changes_as_expected": worker["outputs"]["as_expected"]}
    for suffix, measured in (("", raw), ("_end", raw_end or {})):
        for mode, figures in measured.items():
            ratio = rate / figures["observations_per_s"] if figures.get("observations_per_s") else None
            out[f"ratio_to_raw_{mode}{suffix}"] = round(ratio, 3) if ratio is not None else None
            out[f"meets_ratio_{mode}{suffix}"] = ratio is not None and ratio >= TARGET_RATIO
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="elava-bench-") as tmp:
        work_dir = args.keep or Path(tmp)
        work_dir.mkdir(parents=True, exist_ok=True)
        with broker(args.bootstrap) as (bootstrap, version):
            result = asyncio.run(run(args, bootstrap, work_dir))
            result["kafka"] = {"version": version, "bootstrap": bootstrap}
        if not args.no_embedded:  # with our broker stopped: `elava scan` runs without one
            result["embedded"] = embedded_apart(args, result["scenario"], work_dir)
    result["command"] = " ".join(["python -m tests.bench.bench_pipeline", *(argv or sys.argv[1:])])
    result["bench_wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
