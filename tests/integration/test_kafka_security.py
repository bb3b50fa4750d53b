"""Collector -> worker (and its policy stage) -> executor through a broker that only speaks SASL_SSL
(SCRAM, mutual TLS, ACLs on): each part as its own principal, and clients without the right
credentials refused with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from collectors.service import run_collector
from elava.events import ActionRequest, ChangeEvent
from elava.kafka.clients import ensure_topics, new_producer
from elava.processes.worker_process import WorkerProcess, kafka_env, wait_until_decided, wait_until_processed
from elava.signing import KEY_ID_HEADER
from elava.topics import Topics
from tests.integration.executing import ResultReader, running_executor
from tests.integration.reading import read_topic
from tests.integration.secure_broker import ADMIN, start_secure_broker

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WRITTEN_BY_TEST = b"acl-probe"  # the key of what the ACL test writes to actions


@pytest.fixture(scope="module")
async def secure(tmp_path_factory):
    broker = start_secure_broker(tmp_path_factory.mktemp("tls"))
    try:
        # What an operator does first: `elava topics create` as the admin, then acls.sh.
        await ensure_topics(broker.settings(ADMIN, tmp_path_factory.mktemp("admin")).kafka)
        broker.grant_acls()
        yield broker
    finally:
        broker.stop()


async def test_collector_worker_and_executor_run_through_sasl_ssl_as_their_own_principals(secure, account, tmp_path):
    admin = secure.settings(ADMIN, tmp_path)
    volume = account.client("ec2").create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    collector = in_account(secure.settings("elava-collector", tmp_path), account)

    assert await run_collector(collector, type_names=["ec2.volume"]) is False
    # `elava worker` as users run it: its policy stage is its child, with its settings (the
    # worker's principal, its own consumer group, the signing key).
    worker = WorkerProcess(secure.settings("elava-worker", tmp_path), tmp_path / "worker.log")
    worker.start()
    try:
        await wait_until_processed(admin, worker)
        await wait_until_decided(admin, worker)
    finally:
        worker.stop()
    assert secure.passwords["elava-worker"] not in (tmp_path / "worker.log").read_text()

    topics = Topics(admin.kafka)
    changes = [ChangeEvent.from_bytes(r.value) for r in await read_topic(admin.kafka, topics.changes)]
    assert [(c.resource.id, c.kind) for c in changes] == [(volume, "created")]
    records = await read_topic(admin.kafka, topics.actions)
    actions = [ActionRequest.from_bytes(r.value) for r in records if r.key != WRITTEN_BY_TEST]
    assert [(a.uid.rsplit("/", 1)[1], a.action) for a in actions] == [(volume, "delete")]
    assert [dict(r.headers).get(KEY_ID_HEADER) for r in records if r.key != WRITTEN_BY_TEST] == [b"k1"]

    # The executor holds the key too: it refuses unsigned requests, so "notified" means verified.
    executor = in_account(secure.settings("elava-executor", tmp_path), account)  # it looks again before acting
    async with running_executor(executor), ResultReader(admin) as reader:
        final = await reader.until_final(actions)
    assert final[actions[0].event_id].status == "notified"


def in_account(settings, account):
    """``settings`` with AWS calls going to the simulated account."""
    aws = settings.providers.aws.model_copy(update={"endpoint_url": account.endpoint_url})
    return settings.model_copy(update={"providers": settings.providers.model_copy(update={"aws": aws})})


@pytest.mark.parametrize("writer, allowed", [("elava-worker", True), ("elava-collector", False),
                                             ("elava-executor", False)])
async def test_only_the_worker_may_write_actions(secure, tmp_path, writer, allowed):
    settings = secure.settings(writer, tmp_path)
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        send = producer.send_and_wait(Topics(settings.kafka).actions, b"{}", key=WRITTEN_BY_TEST)
        if allowed:
            assert (await send).offset >= 0
        else:
            with pytest.raises(TopicAuthorizationFailedError):
                await send
    finally:
        await producer.stop()


def topics_create(settings) -> subprocess.CompletedProcess:
    env = {**_without_elava_env(), "ELAVA_CONFIG": "/dev/null", **kafka_env(settings.kafka)}
    return subprocess.run([sys.executable, "-m", "elava", "topics", "create"], env=env, capture_output=True,
                          text=True, timeout=120)


def _without_elava_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("ELAVA_")}


def error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


PLAINTEXT = {"security_protocol": "PLAINTEXT", "sasl_mechanism": None, "sasl_username": None, "sasl_password": None,
             "ssl_cafile": None, "ssl_certfile": None, "ssl_keyfile": None, "ssl_key_password": None}


def test_a_client_without_credentials_is_refused_in_one_line(secure, tmp_path):
    line = error_line(topics_create(secure.settings("elava-collector", tmp_path, **PLAINTEXT)))
    assert line == (f"error: Kafka at {secure.bootstrap} closed the connection during the handshake: does "
                    "kafka.security_protocol (PLAINTEXT) match the listener on that port? "
                    "(a TLS listener wants SSL or SASL_SSL)")


def test_a_wrong_password_is_refused_in_one_line_that_does_not_echo_it(secure, tmp_path):
    done = topics_create(secure.settings("elava-collector", tmp_path, sasl_password="not-the-password"))
    line = error_line(done)
    assert line == (f"error: Kafka at {secure.bootstrap} refused the credentials of 'elava-collector' "
                    "(SCRAM-SHA-512): check kafka.sasl_username and kafka.sasl_password")
    assert "not-the-password" not in done.stdout + done.stderr


def test_a_client_without_its_certificate_is_refused_in_one_line(secure, tmp_path):
    no_cert = {"ssl_certfile": None, "ssl_keyfile": None, "ssl_key_password": None}
    line = error_line(topics_create(secure.settings("elava-collector", tmp_path, **no_cert)))
    # TLS 1.3 checks the client's certificate after the handshake: the broker's alert, or just a
    # closed connection, depending on which the client reads first; both name the setting.
    assert line.startswith(f"error: Kafka at {secure.bootstrap} ") and "kafka.ssl_certfile" in line


def test_a_mechanism_the_listener_does_not_offer_is_named(secure, tmp_path):
    line = error_line(topics_create(secure.settings("elava-collector", tmp_path, sasl_mechanism="PLAIN")))
    assert line == (f"error: Kafka at {secure.bootstrap} does not accept sasl_mechanism PLAIN on this listener: "
                    "check kafka.sasl_mechanism")
