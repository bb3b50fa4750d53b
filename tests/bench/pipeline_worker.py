"""The worker side of the pipeline benchmark: run one `elava worker`, time it, read what it wrote.

Two ways to feed it (``mode``):

- ``paused`` (default): the worker is started and warmed up (one marker, committed),
  then for every round it is paused (SIGSTOP), the whole round is produced, and it
  is resumed (SIGCONT) and timed until its committed offsets reach the end of the
  round. Every round is on the topic before the worker sees any of it, nothing else
  competes for the CPU, and each round gets its own figures.
- ``continuous``: every round is produced before the worker starts; it is timed from
  its first output (≈ first page consumed) until its committed offsets reach the end.

The worker's CPU time (psutil) is sampled every 0.1 s beside the group's committed
offsets. A round ends when its offsets are committed: that includes the worker's
flush of everything it produced, and up to one commit interval (0.2 s).

The policy stage (`elava policy serve`, the worker's child, with its evaluating
children) is not paused with the worker and is not waited for by it: its CPU is
sampled beside the worker's, and after the last round the benchmark waits until the
stage has committed every attributed change (``policy_stage``: how long after the
worker, and its CPU over the whole run).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from elava.processes.worker_process import WorkerProcess, committed_offsets, worker_env
from elava.settings import Settings
from elava.topics import Topics
from tests.bench.machine import CpuReading, MachineCpu
from tests.bench.pipeline_data import Message, Round, warmup_message

TIMEOUT = 900.0
Publish = Callable[[list[Message]], Awaitable[dict[int, int]]]


class _StageCpu:
    """CPU seconds of a stage the worker started (`elava policy serve`, `elava fleet serve`), with
    its children (the policy stage's evaluating children: live ones, and those it reaped)."""

    def __init__(self, worker: psutil.Process, command: str) -> None:
        self.worker, self.command, self.process, self.last = worker, command, None, 0.0

    def __call__(self) -> float:
        try:
            if self.process is None:
                self.process = next((c for c in self.worker.children() if _is_stage(c.cmdline(), self.command)),
                                    None)
            if self.process is None:
                return self.last
            own = self.process.cpu_times()
            total = own.user + own.system + own.children_user + own.children_system
            for child in self.process.children(recursive=True):
                times = child.cpu_times()
                total += times.user + times.system
        except psutil.Error:  # a child went away between the listing and the reading
            return self.last
        self.last = total
        return total


def _is_stage(cmdline: list[str], command: str) -> bool:
    """``command`` (``policy``, ``drift-stage``, ``fleet``) followed by ``serve`` in the command line."""
    return any(cmdline[n:n + 2] == [command, "serve"] for n in range(len(cmdline) - 1))


class _Samples:
    """(wall time, CPU seconds) of the worker and of its policy stage; CPU at any moment by interpolation."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.stage_cpu = _StageCpu(process, "policy")
        self.fleet_cpu = _StageCpu(process, "fleet")
        self.drift_cpu = _StageCpu(process, "drift-stage")
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.stage: list[float] = []
        self.fleet: list[float] = []
        self.drift: list[float] = []
        self.machine = MachineCpu()
        self.machine_at: list[CpuReading] = []  # read with ``times``

    def take(self) -> None:
        cpu = self.process.cpu_times()
        self.times.append(time.time())
        self.cpu.append(cpu.user + cpu.system)
        self.stage.append(self.stage_cpu())
        self.fleet.append(self.fleet_cpu())
        self.drift.append(self.drift_cpu())
        self.machine_at.append(self.machine.read())

    def machine_between(self, start: float, end: float) -> dict:
        """The machine's busy cores and the broker's CPU from the last reading at or before
        ``start`` to the first at or after ``end`` (readings are 0.1 s apart)."""
        first = max(0, bisect.bisect_right(self.times, start) - 1)
        last = min(len(self.times) - 1, bisect.bisect_left(self.times, end))
        return self.machine_at[last].since(self.machine_at[first], self.times[last] - self.times[first])

    def at(self, moment: float, series: list[float] | None = None) -> float:
        values = self.cpu if series is None else series
        i = bisect.bisect_left(self.times, moment)
        if i <= 0:
            return values[0]
        if i >= len(self.times):
            return values[-1]
        t0, t1, c0, c1 = self.times[i - 1], self.times[i], values[i - 1], values[i]
        return c0 + (c1 - c0) * (moment - t0) / (t1 - t0) if t1 > t0 else c1

    def stage_at(self, moment: float) -> float:
        return self.at(moment, self.stage)


def _rss(process: psutil.Process) -> dict:
    status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
    peak_kb = next((int(line.split()[1]) for line in status if line.startswith("VmHWM")), 0)
    return {"rss_mib_end": round(process.memory_info().rss / 2**20, 1), "rss_mib_peak": round(peak_kb / 1024, 1)}


class _Spy:
    """py-spy attached to the worker from a given round on (``--format raw``)."""

    def __init__(self, out: Path | None, from_round: int) -> None:
        self.out, self.from_round, self.process = out, from_round, None

    def maybe_start(self, pid: int, round_index: int) -> None:
        if self.out and self.process is None and round_index >= self.from_round:
            self.process = subprocess.Popen(
                ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "100", "--nonblocking",
                 "-o", str(self.out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.terminate()


class ProbedWorker(WorkerProcess):
    """The worker run through tests/bench/worker_probe.py (timers around the agent)."""

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.bench.worker_probe", "worker", "--loglevel", "WARNING"],
                env=worker_env(self.settings), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def probe_lines(log_path: Path, spans: list[tuple[float, float]]) -> list[dict]:
    """Per round: the probe's counters over that round (differences of its 2-second lines)."""
    lines = [orjson.loads(line.split("probe ", 1)[1]) for line in log_path.read_text().splitlines()
             if "probe {" in line]
    result = []
    for start, end in spans:
        inside = [line for line in lines if start <= line["now"] <= end + 2.0]
        before = [line for line in lines if line["now"] < start]
        if not inside:
            continue
        first, last = (before[-1] if before else {}), inside[-1]
        result.append({k: round(v - first.get(k, 0), 3) for k, v in last.items() if k != "now"})
    return result


class _Watcher:
    """Polls the worker group's committed offsets, sampling CPU as it goes."""

    def __init__(self, settings: Settings, worker: WorkerProcess, samples: _Samples) -> None:
        self.settings, self.worker, self.samples = settings, worker, samples
        self.topic = Topics(settings.kafka).observations
        self.admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)

    async def until_committed(self, ends: dict[int, int], timeout: float = TIMEOUT,
                              group: str | None = None, topic: str | None = None) -> float:
        """When the committed offsets (of the worker, or of ``group`` on ``topic``) reached ``ends``."""
        deadline = time.monotonic() + timeout
        group, topic = group or self.settings.worker.app_id, topic or self.topic
        while True:
            self.samples.take()
            committed = await committed_offsets(self.admin, group)
            now = time.time()
            if all((c := committed.get(TopicPartition(topic, p))) is not None and c.offset >= end
                   for p, end in ends.items() if end):
                return now
            self.worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not catch up in {timeout:.0f}s")
            await asyncio.sleep(0.1)


async def measure_worker(settings: Settings, rounds: list[Round], work_dir: Path, publish: Publish, *,
                         mode: str = "paused", py_spy: Path | None = None, py_spy_from: int = 0,
                         timeline: Path | None = None, probe: bool = False) -> dict:
    """Run one worker over every round; ``py_spy``: sample it from round ``py_spy_from`` (0-based) on."""
    worker = (ProbedWorker if probe else WorkerProcess)(settings, work_dir / "worker.log")
    spy = _Spy(py_spy, py_spy_from)
    ends = [await publish(r.messages) for r in rounds] if mode == "continuous" else []
    launched = time.time()
    worker.start()
    process = psutil.Process(worker.process.pid)
    samples = _Samples(process)
    watcher = _Watcher(settings, worker, samples)
    await watcher.admin.start()
    try:
        if mode == "continuous":
            spy.maybe_start(process.pid, 0)
            done = await watcher.until_committed(ends[-1])
            figures = {"done_at": done}
        else:
            figures = await _paused_rounds(watcher, rounds, publish, spy, launched)
        memory = _rss(process)
        stage = await _stage_figures(watcher, figures, launched) if settings.policies.enabled else None
        drift = (await _stage_figures(watcher, figures, launched, settings.analyzer.drift.app_id, samples.drift)
                 if settings.analyzer.drift.enabled else None)
        samples.take()
    finally:
        await watcher.admin.close()
        worker.stop()
        spy.wait()
    if timeline:
        timeline.write_text(orjson.dumps({"times": samples.times, "cpu": samples.cpu,
                                          "rounds": figures.get("_spans", [])}).decode())
    spans = figures.pop("_spans", None)
    if probe and spans:
        figures["probe"] = probe_lines(work_dir / "worker.log", spans)
    outputs = await read_outputs(settings, rounds)
    if mode == "continuous":
        figures = _continuous_figures(rounds, outputs, samples, figures["done_at"], launched)
    outputs.pop("_first_ts")
    return {"mode": mode} | figures | memory | {"outputs": outputs, "policy_stage": stage, "drift_stage": drift}


async def _stage_figures(watcher: _Watcher, figures: dict, launched: float, group: str | None = None,
                         series: list[float] | None = None) -> dict:
    """Wait until a stage (the policy stage, or ``group`` whose CPU is ``series``) has handled every
    attributed change; its lag and CPU."""
    settings = watcher.settings
    group, series = group or settings.policies.app_id, series if series is not None else watcher.samples.stage
    topic = Topics(settings.kafka).attributed_changes
    parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await consumer.start()
    try:
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()
    worker_done = figures["_spans"][-1][1] if figures.get("_spans") else figures["done_at"]
    start = figures["_spans"][0][0] if figures.get("_spans") else launched
    done = await watcher.until_committed(ends, group=group, topic=topic)
    samples, changes = watcher.samples, sum(ends.values())
    cpu = samples.at(done, series) - samples.at(start, series)
    worker_cpu = samples.at(worker_done) - samples.at(start)
    return {"attributed_changes": changes, "caught_up_s_after_worker": round(max(0.0, done - worker_done), 2),
            "cpu_s": round(cpu, 2), "cpu_us_per_attributed_change": round(cpu / max(1, changes) * 1e6, 1),
            "cpu_s_while_worker_ran": round(samples.at(worker_done, series) - samples.at(start, series), 2),
            "worker_cpu_s": round(worker_cpu, 2), "startup_cpu_s": round(samples.at(start, series), 2)}


async def _paused_rounds(watcher: _Watcher, rounds: list[Round], publish: Publish, spy: _Spy,
                         launched: float) -> dict:
    pid = watcher.worker.process.pid
    ready = await watcher.until_committed(await publish([warmup_message()]))
    samples = watcher.samples
    figures = {"startup_s": round(ready - launched, 2), "startup_cpu_s": round(samples.at(ready), 2),
               "rounds": [], "_spans": []}
    for i, round_ in enumerate(rounds):
        os.kill(pid, signal.SIGSTOP)
        try:
            ends = await publish(round_.messages)
        finally:
            samples.take()
            resumed = time.time()
            os.kill(pid, signal.SIGCONT)
        spy.maybe_start(pid, i)
        done = await watcher.until_committed(ends)
        figures["rounds"].append(_phase(f"round {i + 1}", round_.observations, resumed, done, samples))
        figures["_spans"].append((resumed, done))
    observations = sum(r["observations"] for r in figures["rounds"])
    wall = sum(r["wall_s"] for r in figures["rounds"])
    cpu = sum(r["cpu_s"] for r in figures["rounds"])
    later = figures["rounds"][1:]
    figures |= {"observations": observations, "wall_s": round(wall, 2),
                "observations_per_s": round(observations / wall), "cpu_s": round(cpu, 2),
                "cpu_us_per_observation": round(cpu / observations * 1e6, 2),
                "cpu_utilisation": round(cpu / wall, 2)}
    if later:
        n, w, c = (sum(r[k] for r in later) for k in ("observations", "wall_s", "cpu_s"))
        figures["later_rounds"] = {"observations": n, "wall_s": round(w, 2), "observations_per_s": round(n / w),
                                   "cpu_us_per_observation": round(c / n * 1e6, 2)}
    return figures


def _continuous_figures(rounds: list[Round], outputs: dict, samples: _Samples, end: float,
                        launched: float) -> dict:
    first = outputs["_first_ts"]
    total = sum(r.observations for r in rounds)
    cpu = samples.at(end) - samples.at(first)
    return {"startup_s": round(first - launched, 2), "startup_cpu_s": round(samples.at(first), 2),
            "observations": total, "wall_s": round(end - first, 2),
            "observations_per_s": round(total / (end - first)), "cpu_s": round(cpu, 2),
            "cpu_us_per_observation": round(cpu / total * 1e6, 2), "cpu_utilisation": round(cpu / (end - first), 2)}


def _phase(name: str, observations: int, start: float, end: float, samples: _Samples) -> dict:
    wall, cpu = end - start, samples.at(end) - samples.at(start)
    return {"name": name, "observations": observations, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "observations_per_s": round(observations / wall),
            "cpu_us_per_observation": round(cpu / observations * 1e6, 2),
            "policy_stage_cpu_s": round(samples.stage_at(end) - samples.stage_at(start), 2),
            "fleet_stage_cpu_s": round(samples.at(end, samples.fleet) - samples.at(start, samples.fleet), 2),
            "drift_stage_cpu_s": round(samples.at(end, samples.drift) - samples.at(start, samples.drift), 2),
            } | samples.machine_between(start, end)


async def _read_all(consumer: AIOKafkaConsumer, parts: list[TopicPartition]):
    ends = await consumer.end_offsets(parts)
    wanted = {tp: end for tp, end in ends.items() if end}
    if not wanted:
        return
    consumer.assign(list(wanted))
    await consumer.seek_to_beginning(*wanted)
    position = dict.fromkeys(wanted, 0)
    while any(position[tp] < end for tp, end in wanted.items()):
        batch = await consumer.getmany(timeout_ms=1000, max_records=20_000)
        for tp, records in batch.items():
            for record in records:
                yield tp, record
            position[tp] = records[-1].offset + 1


async def read_outputs(settings: Settings, rounds: list[Round]) -> dict:
    """Change events by round and kind (checked against the scenario); how many attributed changes,
    drift events, dead letters and changelog records (table writes) there are."""
    kafka, topics = settings.kafka, Topics(settings.kafka)
    round_of = {cause: i for i, r in enumerate(rounds) for cause in r.cause_ids}
    counts = [{"created": 0, "modified": 0, "deleted": 0} for _ in rounds]
    seen, duplicates, first = set(), 0, None
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False,
                                fetch_max_bytes=16 * 2**20, max_partition_fetch_bytes=8 * 2**20)
    await consumer.start()
    try:
        parts = [TopicPartition(topics.changes, p) for p in range(kafka.partitions)]
        async for _, record in _read_all(consumer, parts):
            change = orjson.loads(record.value)
            if (change["uid"], change["new_version"]) in seen:
                duplicates += 1
                continue
            seen.add((change["uid"], change["new_version"]))
            counts[round_of.get(change["cause_id"], len(rounds) - 1)][change["kind"]] += 1
            first = record.timestamp / 1000 if first is None else min(first, record.timestamp / 1000)
        changelog = f"{settings.worker.app_id}-mvcc-changelog"
        others = {}
        for name, topic in (("drift", topics.drift), ("attributed", topics.attributed_changes),
                            ("dlq", topics.dlq), ("changelog", changelog),
                            ("decisions", topics.policy_decisions), ("actions", topics.actions)):
            offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in range(kafka.partitions)])
            others[name] = sum(offsets.values())
    finally:
        await consumer.stop()
    expected = [{"created": r.expected_created, "modified": r.expected_modified, "deleted": 0} for r in rounds]
    total = sum(sum(c.values()) for c in counts)
    return {"changes_by_round": counts, "changes_total": total, "duplicates": duplicates,
            "expected_by_round": expected, "as_expected": counts == expected,
            "attributed_changes": others["attributed"], "drift_events": others["drift"], "dlq": others["dlq"],
            "policy_decisions": others["decisions"], "actions": others["actions"],
            "changelog_records": others["changelog"],
            "changelog_records_per_change": round(others["changelog"] / max(1, total), 2), "_first_ts": first}


async def changelog_by_keyspace(settings: Settings) -> dict[str, int]:
    """How many records of the table's changelog fall in each keyspace of the store (a full read)."""
    from streams.store.keyspaces import keyspace_of

    kafka, counts = settings.kafka, {}
    changelog = f"{settings.worker.app_id}-mvcc-changelog"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False,
                                fetch_max_bytes=16 * 2**20, max_partition_fetch_bytes=8 * 2**20)
    await consumer.start()
    try:
        async for _, record in _read_all(consumer, [TopicPartition(changelog, p) for p in range(kafka.partitions)]):
            space = keyspace_of(record.key or b"")
            name = space.name if space else "other"
            counts[name] = counts.get(name, 0) + 1
    finally:
        await consumer.stop()
    return counts
