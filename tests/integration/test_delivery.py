"""Nothing lost, nothing faked: what a collector saw reaches the worker whole, or its
scan says failed — on the real broker, with moto and a real `elava worker` process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import aioboto3
import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from collectors.aws.batching import page_budget
from collectors.aws.scanner import scan_account
from collectors.redaction_key import redactor_for
from collectors.service import run_collector
from elava.catalogue import registry
from elava.demo.simulated import ACCOUNT, CREDENTIALS, free_port
from elava.events import ChangeEvent, ScanMarker
from elava.kafka.clients import ensure_topics, new_admin
from elava.parts import PART_TYPE
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.settings import Settings, load_settings
from elava.topics import Topics
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.integration.reading import read_topic

pytestmark = pytest.mark.integration
TYPE = "ec2.security-group"
PARTITIONS = 2


def settings_for(bootstrap: str, work: Path, endpoint: str, **overrides) -> Settings:
    run = f"delivery-{uuid.uuid4().hex[:6]}"
    return load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run,
                         kafka__partitions=PARTITIONS, kafka__shard_buckets=1, worker__app_id=run,
                         worker__data_dir=str(work / run), worker__web_port=free_port(),
                         policies__enabled=False, providers__aws__endpoint_url=endpoint, **overrides)


def security_groups(account, count: int, rules: int = 60, note: str = "") -> list[str]:
    """``count`` groups of ``rules`` ingress rules each (moto allows at most 60)."""
    ec2, ids = account.client("ec2"), []
    for n in range(count):
        group = ec2.create_security_group(GroupName=f"g{n}", Description="d")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1000 + r, "ToPort": 1000 + r,
             "IpRanges": [{"CidrIp": f"10.{r}.{n % 250}.0/24", **({"Description": note} if note else {})}]}
            for r in range(rules)])
        ids.append(group)
    return ids


def get_json(settings: Settings, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.worker.web_port}{path}", timeout=30) as answer:
        return json.loads(answer.read())


async def inventory(settings: Settings) -> dict[str, dict]:
    rows = await asyncio.to_thread(get_json, settings, f"/v1/inventory?type={TYPE}&limit=100000")
    return {row["id"]: row for row in rows}


async def summaries(settings: Settings) -> list[ScanMarker]:
    records = await read_topic(settings.kafka.bootstrap_servers, Topics(settings.kafka).scan_markers)
    return [ScanMarker.from_bytes(r.value) for r in records]


async def start_worker(settings: Settings, work: Path) -> WorkerProcess:
    await ensure_topics(settings.kafka)
    worker = WorkerProcess(settings, work / f"{settings.worker.app_id}.log")
    worker.start()
    return worker


async def test_300_groups_of_60_rules_in_one_shard_arrive_whole(kafka_bootstrap, account, tmp_path):
    security_groups(account, 300)
    settings = settings_for(kafka_bootstrap, tmp_path, account.endpoint_url)
    worker = await start_worker(settings, tmp_path)
    try:
        partial = await run_collector(settings, type_names=[TYPE])
        await wait_until_processed(settings, worker, timeout=300)
        stored = await inventory(settings)
    finally:
        worker.stop()

    assert partial is False
    assert len(stored) == 301  # 300 and the default group
    assert all(len(row["attributes"]["ingress"]) == 60 for gid, row in stored.items() if row["name"] != "default")
    [summary] = await summaries(settings)
    assert (summary.status, summary.count) == ("ok", 301)
    pages = [r for r in await read_topic(kafka_bootstrap, Topics(settings.kafka).observations)
             if dict(r.headers)["ce_type"] == b"elava.observation"]
    assert len(pages) >= 2 and max(len(r.value) for r in pages) <= page_budget(settings.kafka.max_message_bytes)


async def _limit_observations(settings: Settings, max_message_bytes: int) -> None:
    admin = new_admin(settings.kafka)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, Topics(settings.kafka).observations,
                                                  {"max.message.bytes": str(max_message_bytes)})])
    finally:
        await admin.close()


def _collect_cli(settings: Settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "ELAVA_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
           "ELAVA_KAFKA__PARTITIONS": str(PARTITIONS), "ELAVA_KAFKA__SHARD_BUCKETS": "1", "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "elava", "collect", "-t", TYPE, "-b", settings.kafka.bootstrap_servers,
         "--endpoint-url", settings.providers.aws.endpoint_url], capture_output=True, text=True, env=env, timeout=300)


async def test_a_scan_whose_pages_are_refused_is_failed_and_deletes_nothing(kafka_bootstrap, account, tmp_path):
    groups = security_groups(account, 30)
    settings = settings_for(kafka_bootstrap, tmp_path, account.endpoint_url)
    worker = await start_worker(settings, tmp_path)
    try:
        assert await run_collector(settings, type_names=[TYPE]) is False
        await wait_until_processed(settings, worker)
        assert len(await inventory(settings)) == 31
        # The broker now refuses anything over 20 KB on observations: every page of ~250 KB.
        await _limit_observations(settings, 20_000)
        account.client("ec2").delete_security_group(GroupId=groups[0])

        done = await asyncio.to_thread(_collect_cli, settings)
        await wait_until_processed(settings, worker)
        stored = await inventory(settings)
    finally:
        worker.stop()

    assert done.returncode == 3, done.stdout + done.stderr
    assert "failed (delivery-failed)" in done.stdout and "partial scan" in done.stdout
    assert "Traceback" not in done.stderr and "never retrieved" not in done.stderr
    assert groups[0] in stored and len(stored) == 31  # a failed scan infers no deletion
    last = [m for m in await summaries(settings)][-1]
    assert (last.status, last.error_class) == ("failed", "delivery-failed") and "not delivered" in last.error


async def _embedded_changes(account, settings: Settings) -> list[ChangeEvent]:
    pipeline = EmbeddedPipeline(VersionStore(MemoryKV()))
    session = aioboto3.Session(region_name="us-east-1", **CREDENTIALS)
    await scan_account(session, ACCOUNT, ["us-east-1"], [registry.get(TYPE)], pipeline, buckets=1, page_size=500,
                       page_bytes=page_budget(settings.kafka.max_message_bytes), endpoint_url=account.endpoint_url,
                       scan_id="embedded", redactor=redactor_for(settings.collector))
    return pipeline.outputs.changes


async def test_a_group_larger_than_a_message_arrives_whole_through_both_drivers(kafka_bootstrap, account, tmp_path):
    [big] = security_groups(account, 1, note="n" * 255)  # ~21 KB of JSON
    settings = settings_for(kafka_bootstrap, tmp_path, account.endpoint_url, kafka__max_message_bytes=16 * 1024)
    worker = await start_worker(settings, tmp_path)
    try:
        assert await run_collector(settings, type_names=[TYPE]) is False
        await wait_until_processed(settings, worker)
        uid = next(uid for uid in [f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{big}"])
        stored = await asyncio.to_thread(get_json, settings, f"/v1/resource?uid={quote(uid, safe='')}")
    finally:
        worker.stop()
    observations = await read_topic(kafka_bootstrap, Topics(settings.kafka).observations)
    streamed = [ChangeEvent.from_bytes(r.value)
                for r in await read_topic(kafka_bootstrap, Topics(settings.kafka).changes)]
    embedded = await _embedded_changes(account, settings)

    assert sum(1 for r in observations if dict(r.headers)["ce_type"] == PART_TYPE.encode()) >= 2
    assert max(len(r.value) for r in observations) <= page_budget(settings.kafka.max_message_bytes)
    assert len(stored["resource"]["attributes"]["ingress"]) == 60
    by_uid = {c.uid: c for c in streamed}
    assert {c.uid for c in embedded} == set(by_uid) and len(embedded) == 2
    for change in embedded:
        assert (by_uid[change.uid].kind, by_uid[change.uid].resource) == (change.kind, change.resource)
