"""Secrets stay home: planted secrets show in no form on any topic, store, CLI output or API answer.

Secrets go where they live in real accounts: EC2 user data, Lambda environment values
(``DB_PASSWORD=hunter2``, ``PIN=4711`` — found among 10,000 guesses if their unkeyed
digest leaked), a tag named like a password. The account is collected twice (a secret
changes in between, so diffs hold old and new digests) onto the real broker, processed by
a real worker process, asked through its query API, and scanned in-process by
`elava scan`, then read back with `elava history`, `elava at` and `elava changes`.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from aiokafka import TopicPartition
from typer.testing import CliRunner

from collectors.service import run_collector
from elava.cli.main import app as cli
from elava.demo.simulated import SimulatedAccount, free_port
from elava.kafka.clients import ensure_topics, new_admin, new_consumer
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.redaction import LEGACY_PREFIX, PREFIX, key_id_of
from elava.settings import Settings, load_settings
from streams.store.kv import RocksKV
from tests.integration.leaks import Secret, base64_cores, find_leaks
from tests.integration.web import http_get, wait_for_web

pytestmark = pytest.mark.integration
MARKER = f"PLANTED-{uuid.uuid4().hex}"
USER_DATA = f"#!/bin/sh\nexport DB_PASSWORD={MARKER}-ud\ncurl -s https://example.com/setup?key={MARKER}-url\n"
ENV_V1 = {"DB_PASSWORD": "hunter2", "PIN": "4711", "API_TOKEN": f"{MARKER}-api", "LOG_LEVEL": f"trace-{MARKER[-8:]}"}
ENV_V2 = {**ENV_V1, "DB_PASSWORD": "correct-horse-battery"}  # the password is rotated between scans
SECRETS = [Secret("user data script", USER_DATA), Secret("password in user data", f"{MARKER}-ud"),
           Secret("key in a user-data URL", f"{MARKER}-url"), Secret("DB_PASSWORD", "hunter2"),
           Secret("PIN", "4711"), Secret("API_TOKEN", f"{MARKER}-api"),
           Secret("rotated DB_PASSWORD", "correct-horse-battery"), Secret("db_password tag", "TagSecret456"),
           Secret("LOG_LEVEL", f"trace-{MARKER[-8:]}")]  # every Lambda environment value is secret, whatever its name
REDACTION_KEY = uuid.uuid4().hex + uuid.uuid4().hex
API_TOKEN = f"token-{uuid.uuid4().hex}"


def plant(account: SimulatedAccount) -> None:
    account.client("ec2").run_instances(
        ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData=USER_DATA,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "Name", "Value": "leaky"}, {"Key": "db_password", "Value": "TagSecret456"}]}])
    role = account.client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    account.client("lambda").create_function(
        FunctionName="leaky-fn", Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"ZipFile": code.getvalue()}, Environment={"Variables": ENV_V1})


def rotate_the_password(account: SimulatedAccount) -> None:
    account.client("lambda").update_function_configuration(FunctionName="leaky-fn",
                                                           Environment={"Variables": ENV_V2})


def test_the_probe_finds_every_form_of_a_leak():
    """The search below can fail: each form of a secret, hidden in a larger output, is found."""
    import base64
    import hashlib
    import urllib.parse

    secret = Secret("pw", "hunter2")
    for prefix in (b"", b"a", b"ab"):  # the three base64 alignments inside a longer script
        script = base64.b64encode(prefix + b"#!/bin/sh\nexport DB_PASSWORD=hunter2\n")
        assert find_leaks([secret], {"user data": b'{"user_data": "' + script + b'"}'})
    unkeyed = LEGACY_PREFIX + hashlib.sha256(b"hunter2").hexdigest()[:16]
    for leaked in (b'"DB_PASSWORD": "hunter2"', unkeyed.encode(), base64.b64encode(b"hunter2"),
                   urllib.parse.quote("p@ss word/1", safe="").encode()):
        target = secret if b"p%40ss" not in leaked else Secret("pw", "p@ss word/1")
        assert find_leaks([target], {"out": b"..." + leaked + b"..."}), leaked
    assert find_leaks([Secret("pin", "4711")], {"out": b'{"PIN": "4711"}'})
    assert not find_leaks([Secret("pin", "4711")], {"out": b'{"id": "i-04711ab", "n": 147112}'})
    assert len(base64_cores(b"hunter2")) == 3


async def test_no_planted_secret_leaves_in_any_form(kafka_bootstrap, account, tmp_path, monkeypatch):
    plant(account)
    settings = _settings(kafka_bootstrap, account, tmp_path)
    await ensure_topics(settings.kafka)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    cli_env = {"ELAVA_STORAGE__PATH": str(tmp_path / "store"), "COLUMNS": "250",
               "XDG_DATA_HOME": str(tmp_path / "cli-data")}  # `elava scan` creates its own key there
    outputs: dict[str, bytes] = {}
    try:
        await _collect(settings, worker)
        outputs["cli scan json"] = await _cli(cli_env, "scan", "--endpoint-url", account.endpoint_url, "--output", "json")
        rotate_the_password(account)
        await _collect(settings, worker)
        outputs["cli scan table"] = await _cli(cli_env, "scan", "--endpoint-url", account.endpoint_url)
        outputs |= await _cli_queries(cli_env, outputs["cli scan json"])
        await wait_for_web(worker, settings.worker.web_port)
        outputs |= await _api_answers(settings)
    finally:
        worker.stop()
    outputs["worker log"] = (tmp_path / "worker.log").read_bytes()
    topics = await _every_topic(settings)
    stores = _stores(tmp_path / "store", settings.worker.data_dir)

    haystacks = {**topics, **outputs, **stores}
    leaks = find_leaks(SECRETS, haystacks)
    assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(leaks[:40])
    assert not [where for where, data in haystacks.items() if LEGACY_PREFIX.encode() in data]
    _published_and_redacted(topics, outputs, stores)


def _settings(kafka_bootstrap: str, account: SimulatedAccount, tmp_path: Path) -> Settings:
    run = f"secrets-{uuid.uuid4().hex[:6]}"
    return load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run,
                         kafka__partitions=2, worker__app_id=run, worker__data_dir=str(tmp_path / "w"),
                         worker__web_port=free_port(), worker__api_token=API_TOKEN,
                         collector__redaction_key=REDACTION_KEY, providers__aws__endpoint_url=account.endpoint_url)


async def _collect(settings: Settings, worker: WorkerProcess) -> None:
    await run_collector(settings)
    await wait_until_processed(settings, worker)


async def _cli(env: dict[str, str], *args: str) -> bytes:
    # `elava scan` runs its own event loop: give it a thread of its own.
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output.encode()


async def _cli_queries(env: dict[str, str], scanned: bytes) -> dict[str, bytes]:
    uids = [r["uid"] for r in map(json.loads, scanned.decode().splitlines()) if r["type"] in
            ("lambda.function", "ec2.instance")]
    assert len(uids) == 2, uids
    outputs = {}
    for uid in uids:
        for output in ("table", "json"):
            outputs[f"cli history {uid} {output}"] = await _cli(env, "history", uid, "--output", output)
    for output in ("table", "json"):
        outputs[f"cli at {output}"] = await _cli(env, "at", "0s", "--output", output)
        outputs[f"cli changes {output}"] = await _cli(env, "changes", "--since", "1h", "--output", output)
    return outputs


async def _api_answers(settings: Settings) -> dict[str, bytes]:
    port, answers = settings.worker.web_port, {}
    status, inventory = await asyncio.to_thread(http_get, port, "/v1/inventory", API_TOKEN)
    assert status == 200 and {r["type"] for r in inventory} >= {"lambda.function", "ec2.instance"}
    answers["api inventory"] = json.dumps(inventory).encode()
    paths = ["/v1/changes?since=1h"] + [f"/v1/{what}?uid={quote(r['uid'], safe='')}" for r in inventory
                                        if r["type"] in ("lambda.function", "ec2.instance")
                                        for what in ("history", "resource", "who")]
    for path in paths:
        status, body = await asyncio.to_thread(http_get, port, path, API_TOKEN)
        assert status == 200, (path, body)
        answers[f"api {path}"] = json.dumps(body).encode()
    return answers


async def _every_topic(settings: Settings) -> dict[str, bytes]:
    """Keys, values and headers of every record on every topic of this run (changelogs too)."""
    admin, consumer = new_admin(settings.kafka), new_consumer(settings.kafka)
    await admin.start()
    await consumer.start()
    try:
        names = [t for t in await admin.list_topics()
                 if t.startswith((settings.kafka.topic_prefix, settings.worker.app_id))]
        found = {}
        for topic in await admin.describe_topics(names):
            name = topic["topic"]
            parts = [TopicPartition(name, p["partition"]) for p in topic["partitions"]]
            found[f"topic {name}"] = await _read(consumer, parts)
        return found
    finally:
        await consumer.stop()
        await admin.close()


async def _read(consumer, parts: list[TopicPartition]) -> bytes:
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    ends, chunks = await consumer.end_offsets(parts), []
    while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            for r in records:
                chunks += [r.key or b"", r.value or b""] + [b"%s=%s" % (k.encode(), v) for k, v in r.headers]
    return b"\n".join(chunks)


def _stores(embedded: Path, worker_dir: Path) -> dict[str, bytes]:
    """Every key and value of the embedded store and of each of the worker's partition stores."""
    import rocksdict

    found = {"store embedded": b"\n".join(k + b"=" + v for k, v in RocksKV(embedded, read_only=True).scan(b""))}
    for db in sorted(worker_dir.rglob("*.db")):
        options = rocksdict.Options(raw_mode=True)
        handle = rocksdict.Rdict(str(db), options=options, access_type=rocksdict.AccessType.read_only())
        try:
            found[f"store {db.name}"] = b"\n".join(k + b"=" + v for k, v in handle.items())
        finally:
            handle.close()
    assert len(found) > 1, f"no worker partition store under {worker_dir}"
    return found


def _published_and_redacted(topics: dict[str, bytes], outputs: dict[str, bytes], stores: dict[str, bytes]) -> None:
    """The secrets' fields were published — redacted with the installation's key — so their absence means something."""
    observations = next(data for where, data in topics.items() if where.endswith("observations"))
    assert b"leaky-fn" in observations and b"leaky" in observations
    function = next(json.loads(line) for line in outputs["cli scan json"].splitlines() if b"leaky-fn" in line)
    digests = {name: value for name, value in function["attributes"]["environment"].items()}
    assert set(digests) == set(ENV_V1) and all(value.startswith(PREFIX) for value in digests.values())
    published_key_ids = {key_id_of(token.decode()) for token in observations.split(b'"') if token.startswith(b"redacted:")}
    assert len(published_key_ids) == 1 and None not in published_key_ids  # the collectors' shared key
    assert key_id_of(digests["PIN"]) not in published_key_ids  # `elava scan` made its own key file
    history = next(data for where, data in outputs.items() if "history" in where and "function" in where
                   and where.endswith("json"))
    assert len(history.splitlines()) == 2  # the rotated password is a new version
    assert b"redacted:hmac-sha256:" in stores["store embedded"]
