"""Policies off the worker's path, on the real broker: a policy that fails and one that loops
each cost a decision "error", while every change of the page is published and the worker
answers its query API; a policy that does not load stops `elava worker` at start-up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from collectors.publish import KafkaSink
from elava.demo.simulated import free_port
from elava.events import ChangeEvent, PolicyDecision
from elava.kafka.clients import ensure_topics, new_producer
from elava.processes.worker_process import WorkerProcess, wait_until_decided, wait_until_processed, worker_env
from elava.settings import load_settings
from elava.topics import Topics
from tests.integration.reading import read_topic
from tests.unit.streams.fixtures import T0, page, sg, shard

pytestmark = pytest.mark.integration
HEAD = "package elava.{name}\n\nimport rego.v1\n\n"
POLICIES = {
    "denyall": 'deny contains sprintf("%s is denied", [input.resource.id])',
    # Loops in regopy's native code (4e8 iterations: about an hour), in little memory.
    "looping": ('deny contains "never" if {\n\tinput.resource.tags.loop == "yes"\n'
                '\tsome a in numbers.range(1, 20000)\n\tsome b in numbers.range(1, 20000)\n\ta * b < 0\n}'),
    "failing": 'deny contains msg if {\n\tinput.resource.tags.fail == "yes"\n\tmsg := sprintnf("%s", ["x"])\n}',
}


def write_policies(directory: Path, policies: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rule in policies.items():
        (directory / f"{name}.rego").write_text(HEAD.format(name=name) + rule + "\n")
    return directory


def one_shard(tags_by_name: dict[str, dict]) -> list:
    """Security groups named like the keys (plus a suffix) that all fall in one shard: one page."""
    first = None
    found = []
    for name, tags in tags_by_name.items():
        for i in range(500):
            candidate = sg(f"{name}-{i}", tags)
            if first is None or shard(candidate) == first:
                first = shard(candidate)
                found.append(candidate)
                break
    assert len(found) == len(tags_by_name)
    return found


def get_json(port: int, path: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def settings_for(bootstrap: str, work: Path, policies: Path, **extra):
    run = f"stage-{uuid.uuid4().hex[:6]}"
    return load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run, kafka__partitions=2,
                         worker__app_id=run, worker__data_dir=str(work / run), worker__web_port=free_port(),
                         policies__path=str(policies), policies__app_id=f"{run}-policies", analyzer__drift__app_id=f"{run}-drift",
                         policies__evaluation_timeout="2s", **extra)


async def test_failing_and_looping_policies_cost_error_decisions_never_changes(kafka_bootstrap, tmp_path):
    settings = settings_for(kafka_bootstrap, tmp_path, write_policies(tmp_path / "policies", POLICIES))
    topics = Topics(settings.kafka)
    await ensure_topics(settings.kafka)
    looping, failing, *plain = one_shard({"sg-loop": {"loop": "yes"}, "sg-fail": {"fail": "yes"},
                                          "sg-a": {}, "sg-b": {}})
    worker = WorkerProcess(settings, tmp_path / "worker.log")  # runs the policy stage as its child
    worker.start()
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        await KafkaSink(producer, topics).page(page([looping, failing, *plain], T0))
        await producer.flush()
        await wait_until_processed(settings, worker, timeout=120)
        # The worker is done with the page whatever the stage is doing: it answers at once.
        uid = quote(looping.uid, safe="")
        status, body = await asyncio.to_thread(get_json, settings.worker.web_port, f"/v1/resource?uid={uid}")
        assert status == 200 and body["resource"]["tags"] == {"loop": "yes"}
        await wait_until_decided(settings, worker, timeout=180)
        assert worker.running
    finally:
        await producer.stop()
        worker.stop()

    changes = [ChangeEvent.from_bytes(r.value) for r in await read_topic(kafka_bootstrap, topics.changes)]
    everyone = [looping, failing, *plain]
    assert sorted((c.uid, c.kind) for c in changes) == sorted((r.uid, "created") for r in everyone)
    decisions = [PolicyDecision.from_bytes(r.value)
                 for r in await read_topic(kafka_bootstrap, topics.policy_decisions)]
    said = {(d.uid, d.policy, d.decision) for d in decisions}
    assert said == {(r.uid, "denyall", "deny") for r in everyone} | {
        (looping.uid, "looping", "error"), (failing.uid, "failing", "error")}
    errors = {d.policy: d.messages[0] for d in decisions if d.decision == "error"}
    assert "ran past 2s (policies.evaluation_timeout)" in errors["looping"]
    assert "Function not found: sprintnf" in errors["failing"]


def test_a_policy_that_does_not_load_stops_the_worker_at_start_up(kafka_bootstrap, tmp_path):
    old = write_policies(tmp_path / "policies", {"old": 'deny[msg] {\n\tmsg := "v0"\n}'})
    settings = settings_for(kafka_bootstrap, tmp_path, old)
    done = subprocess.run([sys.executable, "-m", "elava", "worker", "--loglevel", "WARNING"],
                          env=worker_env(settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert (f"{old / 'old.rego'}: line 5: Rego v0 syntax `deny[msg] {{`; "
            "Rego v1: write `deny contains msg if {`") in done.stderr
    assert "the policy stage did not start" in done.stderr


async def stage_child(worker: WorkerProcess, timeout: float = 60.0, command: bytes = b"policy\0serve") -> int:
    """The pid of the `elava policy serve` (or other ``command``) the worker started (Linux /proc)."""
    pid, loop = worker.process.pid, asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for child in children_of(pid):
            if command in read_if_there(Path(f"/proc/{child}/cmdline")):
                return int(child)
        worker.check_alive()
        await asyncio.sleep(0.2)
    raise AssertionError(f"the worker has no {command!r} child")


def children_of(pid: int) -> list[str]:
    """The child pids of every thread of ``pid``: the supervisor's thread starts a stage again."""
    return [c for task in Path(f"/proc/{pid}/task").iterdir()
            for c in read_if_there(task / "children").decode().split()]


def read_if_there(path: Path) -> bytes:
    """A /proc file's bytes, or none when its thread or process ended between listing and reading."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


async def gone(pid: int, timeout: float = 30.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return True  # dead, not yet reaped
        await asyncio.sleep(0.2)
    return False


async def test_the_worker_restarts_a_dead_stage_and_a_stage_stops_without_its_worker(kafka_bootstrap, tmp_path):
    settings = settings_for(kafka_bootstrap, tmp_path, write_policies(tmp_path / "policies",
                                                                      {"denyall": POLICIES["denyall"]}))
    topics = Topics(settings.kafka)
    await ensure_topics(settings.kafka)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    producer = new_producer(settings.kafka)
    await producer.start()
    sink, before, after = KafkaSink(producer, topics), one_shard({"sg-before": {}}), one_shard({"sg-after": {}})
    try:
        await sink.page(page(before, T0))
        await producer.flush()
        await wait_until_processed(settings, worker, timeout=120)
        await wait_until_decided(settings, worker, timeout=120)
        first = await stage_child(worker)
        os.kill(first, signal.SIGKILL)
        await sink.page(page(after, T0))
        await producer.flush()
        await wait_until_processed(settings, worker, timeout=120)
        await wait_until_decided(settings, worker, timeout=120)  # by the stage started again
        second = await stage_child(worker)
        assert second != first
        os.kill(worker.process.pid, signal.SIGKILL)  # the worker alone: its stage must not linger
        worker.process.wait()
        assert await gone(second), "the policy stage outlived its worker"
    finally:
        await producer.stop()
        worker.kill()
    decisions = await read_topic(kafka_bootstrap, topics.policy_decisions)
    assert sorted(PolicyDecision.from_bytes(r.value).uid for r in decisions) == sorted([before[0].uid, after[0].uid])
