"""Secrets stay home: planted markers appear in no topic and no CLI output.

Markers go where secrets live in real accounts: EC2 user data, Lambda environment
values, a tag named like a password. The account is then collected onto the real
broker, processed by a real worker, and scanned by `elava scan`.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import uuid
import zipfile

import pytest

from collectors.service import run_collector
from elava.demo.simulated import SimulatedAccount
from elava.kafka import ensure_topics
from elava.settings import load_settings
from elava.topics import Topics
from elava.worker_process import WorkerProcess, wait_until_processed
from tests.integration.reading import read_topic

pytestmark = pytest.mark.integration
MARKER = f"PLANTED-{uuid.uuid4().hex}"


def plant(account: SimulatedAccount) -> None:
    ec2 = account.client("ec2")
    ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                      UserData=f"#!/bin/sh\nexport DB_PASSWORD={MARKER}\n",
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [
                          {"Key": "Name", "Value": "leaky"}, {"Key": "db_password", "Value": MARKER}]}])
    iam = account.client("iam")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    account.client("lambda").create_function(
        FunctionName="leaky-fn", Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"ZipFile": code.getvalue()}, Environment={"Variables": {"API_TOKEN": MARKER, "PLAIN": MARKER}})


def leaks(data: bytes | str | None) -> bool:
    if not data:
        return False
    raw = data.encode() if isinstance(data, str) else data
    return MARKER.encode() in raw or base64.b64encode(MARKER.encode())[:24] in raw


@pytest.fixture
def planted(account):
    plant(account)
    return account


async def test_no_planted_secret_reaches_any_topic_or_the_cli(kafka_bootstrap, planted, tmp_path):
    run = f"secrets-{uuid.uuid4().hex[:6]}"
    settings = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run,
                             kafka__partitions=2, worker__app_id=run, worker__data_dir=str(tmp_path / "w"), worker__web_port=0,
                             providers__aws__endpoint_url=planted.endpoint_url)
    await ensure_topics(settings.kafka)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        await run_collector(settings)
        await wait_until_processed(settings, worker)
    finally:
        worker.stop()

    topics = [name for name, _ in Topics(settings.kafka).all()] + [f"{run}-mvcc-changelog"]
    records = [r for topic in topics for r in await read_topic(kafka_bootstrap, topic, 2)]
    assert any(b"leaky-fn" in (r.value or b"") for r in records), "the function itself was published"
    assert not [r.topic for r in records if leaks(r.value) or leaks(r.key)
                or any(leaks(v) for _, v in r.headers)]

    env = {**os.environ, "ELAVA_STORAGE__PATH": str(tmp_path / "store"), "COLUMNS": "200"}
    for output in ("json", "table"):
        done = subprocess.run([sys.executable, "-m", "elava", "scan", "--endpoint-url", planted.endpoint_url,
                               "--output", output], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "leaky" in done.stdout
        assert not leaks(done.stdout) and not leaks(done.stderr)
