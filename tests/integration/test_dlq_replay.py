"""Dead letters on the real broker: kept whole, listed, replayed once the cause is fixed, once.

The cause: a worker started with the wrong ``kafka.shard_buckets`` (10) on a pipeline
whose collectors build pages with 16. It refuses every page and marker to the DLQ,
stores nothing and deletes nothing. Fixed (the worker set to 16), `elava dlq replay`
sends them back; they are processed once, however often they are replayed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import orjson
import pytest
from typer.testing import CliRunner

from elava.cli.main import app
from elava.events import ChangeEvent, Observation, Resource, ScanMarker, cloudevent_headers, digest
from elava.kafka.clients import ensure_topics, new_producer
from elava.kafka.layout_record import recorded_layout
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.settings import load_settings
from elava.sharding import bucket_of, shard_of
from elava.topics import Topics
from tests.integration.reading import read_topic
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, TYPE

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BUCKETS, WRONG = 16, 10
TRACE = ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")


def group(n: int) -> Resource:
    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-dlq-{n}", type=TYPE, id=f"sg-dlq-{n}",
                    account=ACCOUNT, region=REGION, name=f"g{n}")


def pair_in_a_low_bucket() -> tuple[Resource, Resource]:
    """Two groups in one shard whose bucket exists under both layouts (the dangerous case)."""
    first = next(group(n) for n in range(500) if bucket_of(group(n).uid, BUCKETS) < WRONG)
    key = shard_of(first.uid, ACCOUNT, REGION, TYPE, BUCKETS)
    return first, next(group(n) for n in range(500, 1500) if shard_of(group(n).uid, ACCOUNT, REGION, TYPE, BUCKETS) == key)


def scan_messages(kept: Resource, gone: Resource) -> list[tuple[bytes, bytes, list]]:
    """Two scans of one shard as a 16-bucket collector sends them: both groups, then ``kept`` only."""
    key = shard_of(kept.uid, ACCOUNT, REGION, TYPE, BUCKETS)
    events = []
    for number, seen in enumerate(([kept, gone], [kept])):
        at, scan = T0 + timedelta(hours=number), f"s{number}"
        ids = sorted(r.id for r in seen)
        events += [Observation(scan_id=scan, account=ACCOUNT, region=REGION, type=TYPE, shard=key, page=0,
                               observed_at=at, resources=seen, shard_buckets=BUCKETS),
                   ScanMarker(scan_id=scan, account=ACCOUNT, region=REGION, type=TYPE, shard=key, status="ok",
                              count=len(ids), ids=ids, ids_digest=digest(ids), started_at=at,
                              finished_at=at + timedelta(seconds=5), shard_buckets=BUCKETS)]
    return [(key.encode(), event.to_bytes(), [*cloudevent_headers(event, "elava/collector"), TRACE])
            for event in events]


async def produce(settings, messages) -> None:
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(Topics(settings.kafka).observations, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def cli_env(settings) -> dict[str, str]:
    return {"ELAVA_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers, "COLUMNS": "250",
            "ELAVA_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix, "ELAVA_KAFKA__PARTITIONS": "2",
            "ELAVA_KAFKA__SHARD_BUCKETS": str(settings.kafka.shard_buckets)}


async def elava(settings, *args: str):
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=cli_env(settings))


async def changes_by_id(settings) -> dict[str, ChangeEvent]:
    records = await read_topic(settings.kafka.bootstrap_servers, Topics(settings.kafka).changes)
    return {event.event_id: event for event in (ChangeEvent.from_bytes(r.value) for r in records)}


async def run_worker(settings, log, then=None) -> WorkerProcess:
    worker = WorkerProcess(settings, log)
    worker.start()
    try:
        await wait_until_processed(settings, worker, timeout=120)
        if then is not None:
            await then()
    finally:
        worker.stop()
    return worker


async def test_a_refused_scan_is_kept_whole_replayed_after_the_fix_and_processed_once(kafka_bootstrap, tmp_path):
    run = f"dlq-{uuid.uuid4().hex[:6]}"
    common = {"kafka__bootstrap_servers": kafka_bootstrap, "kafka__topic_prefix": run, "kafka__partitions": 2,
              "worker__app_id": run, "worker__data_dir": str(tmp_path / "w"), "worker__web_port": 0}
    right = load_settings(None, kafka__shard_buckets=BUCKETS, **common)
    wrong = load_settings(None, kafka__shard_buckets=WRONG, **common)
    topics = Topics(right.kafka)
    await ensure_topics(right.kafka)
    kept, gone = pair_in_a_low_bucket()
    sent = scan_messages(kept, gone)
    await produce(right, sent)

    await run_worker(wrong, tmp_path / "worker-wrong.log")
    letters = sorted(await read_topic(kafka_bootstrap, topics.dlq), key=lambda r: r.offset)
    assert [(r.key, r.value) for r in letters] == [(key, value) for key, value, _ in sent]
    for letter, (_, _, headers) in zip(letters, sent, strict=True):
        assert letter.headers[:len(headers)] == tuple(headers)  # every original header, in order
        ours = dict(letter.headers[len(headers):])
        assert ours["elava_dlq_topic"] == topics.observations.encode()
        assert b"kafka.shard_buckets=16" in ours["elava_dlq_reason"] and b"=10" in ours["elava_dlq_reason"]
    assert await changes_by_id(right) == {}, "a refused page stores nothing, a refused marker deletes nothing"
    assert await recorded_layout(right.kafka) is None

    listed = await elava(right, "dlq", "list", "--reason", "layout", "--topic", "observations", "-o", "json")
    assert listed.exit_code == 0, listed.output
    rows = [orjson.loads(line) for line in listed.output.splitlines()]
    assert [(row["topic"], row["key"], row["replayed"]) for row in rows] == [
        (topics.observations, sent[0][0].decode(), None)] * 4
    assert (await elava(right, "dlq", "list", "--reason", "schema", "-o", "json")).output == ""

    async def replay_and_check() -> None:
        dry = await elava(right, "dlq", "replay", "--dry-run")
        assert "4 would replay" in dry.output, dry.output
        assert len(await read_topic(kafka_bootstrap, topics.observations)) == len(sent)  # nothing sent
        assert await read_topic(kafka_bootstrap, topics.dlq_replays) == []  # nothing recorded
        first = await elava(right, "dlq", "replay", "--reason", "layout")
        assert first.exit_code == 0 and "4 replayed" in first.output, first.output
        await wait_until_processed(right, timeout=120)
        after_one = await changes_by_id(right)
        assert sorted((c.uid, c.kind) for c in after_one.values()) == sorted(
            [(kept.uid, "created"), (gone.uid, "created"), (gone.uid, "deleted")])

        second = await elava(right, "dlq", "replay")
        assert "0 replayed, 4 already replayed" in second.output, second.output
        again = await elava(right, "dlq", "replay", "--again")
        assert "4 replayed" in again.output, again.output
        await wait_until_processed(right, timeout=120)
        assert await changes_by_id(right) == after_one, "a replay of what was applied adds no effect"

    await run_worker(right, tmp_path / "worker-right.log", then=replay_and_check)
    table = await elava(right, "dlq", "list")
    assert table.exit_code == 0 and "shard layout mismatch" in table.output and f"{topics.observations}[" in table.output
    listed = await elava(right, "dlq", "list", "-o", "json")
    assert all(orjson.loads(line)["replayed"]["topic"] == topics.observations for line in listed.output.splitlines())
    assert await recorded_layout(right.kafka) == BUCKETS

    # The store is built now: the wrong setting is refused at start, in one line naming it.
    for command in (["worker"], ["collect", "--type", "ec2.security-group"]):
        refused = await elava(wrong, *command)
        assert refused.exit_code == 2, refused.output
        (line,) = refused.output.strip().splitlines()
        assert "kafka.shard_buckets" in line and "set kafka.shard_buckets to 16" in line


async def test_the_worker_dead_letters_a_marker_of_another_layout_and_deletes_nothing(kafka_bootstrap, tmp_path):
    run = f"layout-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run,
                             kafka__partitions=2, kafka__shard_buckets=BUCKETS, worker__app_id=run,
                             worker__data_dir=str(tmp_path / "w"), worker__web_port=0)
    nothing_yet = await elava(settings, "dlq", "list")
    assert nothing_yet.exit_code == 0 and "the DLQ is empty" in nothing_yet.output, nothing_yet.output
    await ensure_topics(settings.kafka)
    kept, other = pair_in_a_low_bucket()
    page_key, page, page_headers = scan_messages(kept, other)[0]
    # A 10-bucket collector's empty scan of the same shard name: same key, same partition.
    empty = ScanMarker(scan_id="s10", account=ACCOUNT, region=REGION, type=TYPE, shard=page_key.decode(),
                       status="ok", count=0, ids=[], ids_digest=digest([]), started_at=T0 + timedelta(hours=1),
                       finished_at=T0 + timedelta(hours=1), shard_buckets=WRONG)
    await produce(settings, [(page_key, page, page_headers),
                             (page_key, empty.to_bytes(), cloudevent_headers(empty, "elava/collector"))])

    await run_worker(settings, tmp_path / "worker.log")
    assert sorted(c.kind for c in (await changes_by_id(settings)).values()) == ["created", "created"]
    (letter,) = await read_topic(kafka_bootstrap, Topics(settings.kafka).dlq)
    assert letter.value == empty.to_bytes()
    assert b"scan marker was built with kafka.shard_buckets=10" in dict(letter.headers)["elava_dlq_reason"]
