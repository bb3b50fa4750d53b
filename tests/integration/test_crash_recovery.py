"""A worker killed with SIGKILL mid-stream ends with the store of an uninterrupted run, a
policy stage killed mid-stream with the decisions and actions of an uninterrupted one, and a
drift stage killed mid-stream with the drift of an uninterrupted one.

Both runs consume the same pages. The killed run is SIGKILLed three times at seeded
random moments and restarted; then its local state is wiped and rebuilt from the
changelog topic alone. Its store must equal the uninterrupted run's, record for
record, and its change events must be the same set (duplicates share an event id).
The policy stage is killed while attributed changes wait for it, and restarted: its
decisions and action requests equal an uninterrupted stage's, by event id.
"""

from __future__ import annotations

import asyncio
import random
import uuid
import warnings
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import rocksdict
from aiokafka import AIOKafkaConsumer, TopicPartition

from collectors.publish import KafkaSink
from elava.analyzer_events import DriftEvent
from elava.events import ActionRequest, ChangeEvent, Event, Observation, PolicyDecision, Resource
from elava.kafka.clients import ensure_topics, new_admin, new_producer
from elava.processes.worker_process import (
    DriftStageProcess,
    PolicyStageProcess,
    WorkerProcess,
    committed_offsets,
    uncommitted,
    wait_until_decided,
    wait_until_drift_judged,
    wait_until_processed,
)
from elava.settings import Settings, load_settings
from elava.sharding import shard_of
from elava.topics import Topics
from streams.dlq.letters import DlqEntry
from tests.integration.reading import compare_by_id, read_topic
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, TYPE, marker

# Three worker runs and two rebuilds: minutes on a busy machine; the timeout only guards a hang.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]
RESOURCES, BUCKETS, PAGE = 12_000, 8, 200


HTTPS_INSIDE = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "10.0.0.0/8"}
SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}


def resource(n: int, round_: int) -> Resource:
    # Every tenth resource changes its tags each round: 10% modified. One in a hundred also
    # opens SSH to the world from the second round on: a policy finding and a notify action.
    generation = round_ if n % 10 == 0 else 0
    ingress = [HTTPS_INSIDE] + ([SSH_WORLD] if n % 100 == 0 and round_ >= 1 else [])
    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-{n:08d}", type=TYPE, id=f"sg-{n:08d}",
                    account=ACCOUNT, region=REGION, name=f"group-{n}", tags={"owner": f"team-{generation}"},
                    attributes={"ingress": ingress, "vpc_id": "vpc-1", "description": "x" * 200})


def observation(members: list[Resource], at, scan: str, number: int) -> Observation:
    shard_key = shard_of(members[0].uid, ACCOUNT, REGION, TYPE, BUCKETS)
    return Observation(scan_id=scan, account=ACCOUNT, region=REGION, type=TYPE, shard=shard_key, page=number,
                       observed_at=at, resources=members)


def rounds() -> list:
    """Three scans: all new; 10% modified; 10% modified and 5% gone (ok markers delete them)."""
    messages = []
    for round_ in range(3):
        alive = [resource(n, round_) for n in range(RESOURCES) if round_ < 2 or n % 20 != 1]
        by_shard: dict[str, list] = {}
        for res in alive:
            by_shard.setdefault(shard_of(res.uid, ACCOUNT, REGION, TYPE, BUCKETS), []).append(res)
        at, scan = T0 + timedelta(hours=round_), f"scan-{round_}"
        for shard_key, members in sorted(by_shard.items()):
            for number, start in enumerate(range(0, len(members), PAGE)):
                messages.append(observation(members[start:start + PAGE], at, scan, number))
            messages.append(marker(shard_key, members, at, scan=scan))
    return messages


def settings_for(bootstrap: str, work: Path, **extra) -> Settings:
    run = f"crash-{uuid.uuid4().hex[:6]}"
    return load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run, kafka__partitions=4,
                         kafka__shard_buckets=BUCKETS, worker__app_id=run, worker__data_dir=str(work / run),
                         worker__session_timeout="6s", worker__stall_timeout="60s", worker__web_port=0,
                         policies__app_id=f"{run}-policies", analyzer__drift__app_id=f"{run}-drift",
                         **extra)


async def publish_all(settings: Settings, messages: list) -> None:
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        sink = KafkaSink(producer, Topics(settings.kafka))
        for message in messages:
            await (sink.page(message) if message.ce_type == "elava.observation" else sink.marker(message))
        await producer.flush()
    finally:
        await producer.stop()


def read_store(settings: Settings) -> dict[bytes, bytes]:
    """Every record of every partition's RocksDB, Faust's and the worker's input bookkeeping
    left out (its keys name the run's topics; the offsets depend on the kills)."""
    records = {}
    for path in sorted((settings.worker.data_dir / "v1" / "tables").glob("mvcc-*.db")):
        db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
        try:
            records.update((k, v) for k, v in db.items() if not k.startswith((b"__faust", b"o\x00")))
        finally:
            db.close()
    return records


async def read_events(settings: Settings, topic: str, model: type[Event]) -> list:
    return [model.from_bytes(r.value) for r in await read_topic(settings.kafka, topic)]


async def read_outputs(settings: Settings) -> dict[str, list]:
    topics = Topics(settings.kafka)
    return {"changes": await read_events(settings, topics.changes, ChangeEvent),
            "policy_decisions": await read_events(settings, topics.policy_decisions, PolicyDecision),
            "actions": await read_events(settings, topics.actions, ActionRequest),
            "drift": await read_events(settings, topics.drift, DriftEvent)}


async def run_uninterrupted(settings: Settings, messages: list) -> None:
    worker = WorkerProcess(settings, settings.worker.data_dir.with_suffix(".log"))
    await publish_all(settings, messages)
    worker.start()
    try:
        await wait_until_processed(settings, worker, timeout=300)
        await wait_until_decided(settings, worker, timeout=300)
    finally:
        worker.stop()


async def run_with_kills(settings: Settings, messages: list, rng: random.Random) -> list[int]:
    """Kill the worker three times; for each kill, how many input messages it left uncommitted."""
    # INFO: when a restart stalls, the log's end shows where Faust's recovery stands. A worker
    # that stalled exits (worker.stall_timeout) and is started again, as its supervisor would.
    worker = WorkerProcess(settings, settings.worker.data_dir.with_suffix(".log"), loglevel="INFO",
                           restart_when_stalled=True)
    await publish_all(settings, messages)
    left_at_kills = []
    for _ in range(3):
        worker.start()
        await asyncio.sleep(rng.uniform(3.0, 9.0))
        if worker.running:
            worker.kill()
            # Read after the kill: a dead worker commits nothing more, so this is where it stopped.
            left_at_kills.append(await uncommitted(settings, settings.worker.app_id, Topics(settings.kafka).observations))
    worker.start()
    try:
        await wait_until_processed(settings, worker, timeout=300)
        await wait_until_decided(settings, worker, timeout=300)
    finally:
        worker.stop()
    if worker.stall_restarts:  # said in the run's summary: the store must still come out whole
        warnings.warn(f"the restarted worker stalled and was started again {worker.stall_restarts} time(s)",
                      stacklevel=1)
    return left_at_kills


async def rebuild_from_changelog(settings: Settings) -> None:
    """Wipe the local store; a new worker must restore it from the changelog topic."""
    import shutil

    shutil.rmtree(settings.worker.data_dir)
    worker = WorkerProcess(settings, settings.worker.data_dir.with_suffix(".log"))
    worker.start()
    try:
        # A sentinel page proves the worker is past recovery and processing again.
        sentinel = resource(RESOURCES + 1, 0)
        await publish_all(settings, [observation([sentinel], T0, "sentinel", 0)])
        await wait_until_processed(settings, worker, timeout=300)
    finally:
        worker.stop()


# The restarted worker rejoins its group under its static member name (worker.instance_id),
# taking back the partitions its killed self held without waiting for its session to end.
async def test_sigkilled_worker_recovers_to_the_same_store(kafka_bootstrap, tmp_path):
    messages = rounds()
    calm, crashed = settings_for(kafka_bootstrap, tmp_path), settings_for(kafka_bootstrap, tmp_path)
    for settings in (calm, crashed):
        await ensure_topics(settings.kafka)

    await run_uninterrupted(calm, messages)
    left_at_kills = await run_with_kills(crashed, messages, random.Random(20261128))
    assert any(left > 0 for left in left_at_kills), (
        f"no kill landed while input was unprocessed (left at each kill: {left_at_kills}): make the input larger")

    for settings in (calm, crashed):  # nothing refused: a page in the DLQ would be a change missing below
        letters = await read_topic(settings.kafka, Topics(settings.kafka).dlq)
        reasons = Counter(DlqEntry.from_record(r).reason for r in letters)
        assert not letters, f"{settings.worker.app_id}: dead letters {reasons.most_common(5)}"
    calm_changes, crashed_changes = await read_outputs(calm), await read_outputs(crashed)
    assert len(calm_changes["changes"]) == RESOURCES + 2 * RESOURCES // 10 + RESOURCES // 20
    # Open SSH is announced for each new version of the hundredth groups: rounds 2 and 3.
    assert len({a.event_id for a in calm_changes["actions"]}) == 2 * (RESOURCES // 100)
    for topic in ("changes", "policy_decisions", "actions"):
        # Duplicates share an event id (and are the same event); nothing is missing or extra.
        calm_ids = {e.event_id: e for e in calm_changes[topic]}
        difference = compare_by_id(calm_ids, {e.event_id: e for e in crashed_changes[topic]}, topic)
        assert not difference, difference

    await rebuild_from_changelog(calm)
    await rebuild_from_changelog(crashed)
    calm_store, crashed_store = read_store(calm), read_store(crashed)
    assert len(calm_store) > 3 * RESOURCES
    difference = compare_by_id(calm_store, crashed_store, "store records")
    assert not difference, difference


async def copy_topic(settings: Settings, source: str, target: str) -> None:
    """Every record of ``source`` into the same partition of ``target``, key, value and headers kept."""
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        for r in await read_topic(settings.kafka, source):
            await producer.send(target, key=r.key, value=r.value, headers=list(r.headers), partition=r.partition)
        await producer.flush()
    finally:
        await producer.stop()


async def stage_backlog(settings: Settings, group: str) -> int:
    """Attributed changes published but not yet committed by a stage's group."""
    topic = Topics(settings.kafka).attributed_changes
    parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
    consumer, admin = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers), new_admin(settings.kafka)
    await consumer.start()
    await admin.start()
    try:
        ends = await consumer.end_offsets(parts)
        committed = await committed_offsets(admin, group)
        return sum(end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items())
    finally:
        await admin.close()
        await consumer.stop()


async def kill_mid_stream(settings: Settings, stage: PolicyStageProcess, rng: random.Random, group: str) -> bool:
    """Start the stage, let it commit some of its input, SIGKILL it; whether input was left unhandled."""
    before = await stage_backlog(settings, group)
    stage.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while await stage_backlog(settings, group) == before and loop.time() < deadline:
        stage.check_alive()
        await asyncio.sleep(0.1)
    await asyncio.sleep(rng.uniform(0.0, 0.5))
    stage.kill()
    await asyncio.sleep(1.0)  # a commit already on its way lands; nothing more can come from the dead stage
    return await stage_backlog(settings, group) > 0


async def attributed_changes_twice(kafka_bootstrap, tmp_path) -> tuple[Settings, Settings]:
    """The attributed changes of one worker run (its stages off), on two copies of the topics."""
    off = {"policies__stage_in_worker": False, "analyzer__drift__stage_in_worker": False}
    calm, crashed = settings_for(kafka_bootstrap, tmp_path, **off), settings_for(kafka_bootstrap, tmp_path, **off)
    for settings in (calm, crashed):
        await ensure_topics(settings.kafka)
    worker = WorkerProcess(calm, calm.worker.data_dir.with_suffix(".log"))
    await publish_all(calm, rounds())
    worker.start()
    try:
        await wait_until_processed(calm, worker, timeout=300)
    finally:
        worker.stop()
    await copy_topic(calm, Topics(calm.kafka).attributed_changes, Topics(crashed.kafka).attributed_changes)
    return calm, crashed


async def run_stage(stage: PolicyStageProcess, wait) -> None:
    stage.start()
    try:
        await wait(stage.settings, stage, timeout=300)
    finally:
        stage.stop()


async def test_sigkilled_policy_stage_decides_like_an_uninterrupted_one(kafka_bootstrap, tmp_path):
    calm, crashed = await attributed_changes_twice(kafka_bootstrap, tmp_path)
    await run_stage(PolicyStageProcess(calm, tmp_path / "calm-stage.log"), wait_until_decided)
    stage, rng = PolicyStageProcess(crashed, tmp_path / "crashed-stage.log"), random.Random(20261130)
    kills_with_backlog = [await kill_mid_stream(crashed, stage, rng, crashed.policies.app_id) for _ in range(3)]
    assert any(kills_with_backlog), "every kill came after the stage had decided everything: more input"
    await run_stage(stage, wait_until_decided)

    calm_out, crashed_out = await read_outputs(calm), await read_outputs(crashed)
    assert len({a.event_id for a in calm_out["actions"]}) == 2 * (RESOURCES // 100)
    for topic in ("policy_decisions", "actions"):
        calm_ids = {e.event_id: e for e in calm_out[topic]}
        assert calm_ids, topic
        difference = compare_by_id(calm_ids, {e.event_id: e for e in crashed_out[topic]}, topic)
        assert not difference, difference


async def test_sigkilled_drift_stage_reports_the_drift_of_an_uninterrupted_one(kafka_bootstrap, tmp_path):
    calm, crashed = await attributed_changes_twice(kafka_bootstrap, tmp_path)
    await run_stage(DriftStageProcess(calm, tmp_path / "calm-drift.log"), wait_until_drift_judged)
    stage, rng = DriftStageProcess(crashed, tmp_path / "crashed-drift.log"), random.Random(20261205)
    kills_with_backlog = [await kill_mid_stream(crashed, stage, rng, crashed.analyzer.drift.app_id) for _ in range(3)]
    assert any(kills_with_backlog), "every kill came after the stage had judged everything: more input"
    await run_stage(stage, wait_until_drift_judged)

    calm_out, crashed_out = await read_outputs(calm), await read_outputs(crashed)
    calm_ids = {e.event_id: e for e in calm_out["drift"]}
    # Every tenth resource changes its tags in rounds two and three: one drift each time.
    assert len(calm_ids) == 2 * (RESOURCES // 10)
    assert {e.change_id for e in calm_ids.values()} == {c.event_id for c in calm_out["changes"] if c.kind == "modified"}
    difference = compare_by_id(calm_ids, {e.event_id: e for e in crashed_out["drift"]}, "drift")
    assert not difference, difference
