"""The worker joins its group as a static member (Kafka's group.instance.id): restarted
after a crash under the same name, it takes its partitions back without a rebalance.

The name travels from worker.instance_id (or the host and data_dir) through Faust's
``consumer_group_instance_id`` to the aiokafka consumer Faust builds, and aiokafka puts it
in the JoinGroup request (v5, Kafka 2.3 and later) that the broker keys the member by.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from aiokafka.protocol.group import JoinGroupRequest

from elava.settings import load_settings
from streams.drivers.worker.app import create_app, group_instance_id

VERSIONS = f"faust-streaming {version('faust-streaming')}, aiokafka {version('aiokafka')}"
KAFKA_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")  # what a broker accepts as group.instance.id


async def built_consumer_instance_id(settings) -> str | None:
    app = create_app(settings)
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        return consumer._group_instance_id  # what aiokafka hands its group coordinator
    finally:
        await consumer.stop()


async def test_the_configured_instance_id_reaches_the_consumer_faust_builds(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path), worker__instance_id="worker-7")
    assert await built_consumer_instance_id(settings) == "worker-7", (
        f"{VERSIONS}: Faust's consumer_group_instance_id no longer reaches aiokafka's group_instance_id")


async def test_unset_the_worker_still_joins_as_a_static_member_named_after_host_and_data_dir(tmp_path):
    settings = load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path))
    name = await built_consumer_instance_id(settings)
    assert name == group_instance_id(settings.worker)
    assert name and KAFKA_NAME.match(name)


def test_the_derived_name_is_stable_for_a_data_dir_and_differs_between_data_dirs(tmp_path):
    def derived(folder: str) -> str:
        return group_instance_id(load_settings(None, worker__data_dir=str(tmp_path / folder)).worker)

    assert derived("a") == derived("a")
    assert derived("a") != derived("b")  # two workers of one host: two members


@pytest.mark.parametrize("host", ["worker-0.elava.svc", "ip-10-0-0-1 (eu)", "ü" * 300, ""])
def test_any_host_name_gives_a_name_kafka_accepts(monkeypatch, tmp_path, host):
    monkeypatch.setattr("socket.gethostname", lambda: host)
    assert KAFKA_NAME.match(group_instance_id(load_settings(None, worker__data_dir=str(tmp_path)).worker))


def test_aiokafka_sends_the_instance_id_in_the_join_group_request_kafka_negotiates():
    # Kafka 2.3+ answers JoinGroup up to v5 or later; aiokafka picks its highest, v5.
    request = JoinGroupRequest("elava-worker", 30_000, 60_000, "", "worker-7", "consumer", [("faust", b"")])
    built = request.prepare({JoinGroupRequest.API_KEY: (0, 9)})
    assert built.API_VERSION >= 5, f"{VERSIONS}: aiokafka no longer sends JoinGroup v5 (static membership)"
    assert built.group_instance_id == "worker-7"
    assert b"worker-7" in built.encode()
