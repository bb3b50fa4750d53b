import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from typer.testing import CliRunner

from elava.cli.main import app
from elava.kafka.clients import ensure_topics, new_admin
from elava.settings import KafkaSettings
from elava.topics import CATALOG, Topics

pytestmark = pytest.mark.integration


async def test_topics_create_is_idempotent_and_applies_configs(kafka_bootstrap):
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix="topics-test", partitions=3)
    first = await ensure_topics(settings)
    second = await ensure_topics(settings)
    assert len(first.created) == len(CATALOG) and first.existing == []
    assert second.created == [] and len(second.existing) == len(CATALOG) and second.mismatched == []

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "topics-test.dlq")])
        configs = {c[0]: c[1] for c in described[0].resources[0][4]}
        assert configs["retention.ms"] == str(30 * 86_400_000)
        assert configs["cleanup.policy"] == "delete"
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "topics-test.observations")])
        configs = {c[0]: c[1] for c in described[0].resources[0][4]}
        assert configs["max.message.bytes"] == str(settings.max_message_bytes)  # what collectors size pages by
        (meta,) = await admin.describe_topics(["topics-test.changes"])
        assert len(meta["partitions"]) == 3
    finally:
        await admin.close()


def test_elava_topics_create_compacts_what_is_read_back_whole(kafka_bootstrap, tmp_path):
    prefix = f"catalog-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "elava.yaml"
    config.write_text(f"kafka: {{topic_prefix: {prefix}, partitions: 2}}\n")

    done = CliRunner().invoke(app, ["topics", "create", "-c", str(config), "-b", kafka_bootstrap])

    assert done.exit_code == 0, done.output
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=prefix)
    configs = asyncio.run(topic_configs(settings, [name for name, _ in Topics(settings).all()]))
    # Read back whole (last value per key): deleting by age would lose a finished action
    # (run twice), a CloudTrail position (read again from the lookback), the shard layout
    # (a worker or collector set to another one would start) or a replay (sent twice).
    compacted = {name: c["cleanup.policy"] for name, c in configs.items() if "compact" in c["cleanup.policy"]}
    assert compacted == {f"{prefix}.executor-ledger": "compact", f"{prefix}.checkpoints": "compact",
                         f"{prefix}.layout": "compact", f"{prefix}.dlq-replays": "compact,delete"}
    # Replay records also age out, but only after the DLQ entries they name.
    assert int(configs[f"{prefix}.dlq-replays"]["retention.ms"]) > int(configs[f"{prefix}.dlq"]["retention.ms"])
    for name, spec in Topics(settings).all():
        if name not in compacted:
            assert (configs[name]["cleanup.policy"], configs[name]["retention.ms"]) == (
                "delete", str(spec.retention_ms)), name


async def topic_configs(settings: KafkaSettings, names: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's configs, as the broker applies them."""
    admin = new_admin(settings)
    await admin.start()
    try:
        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        return {name: {entry[0]: entry[1] for entry in entries}
                for answer in answers for _, _, _, name, entries in answer.resources}
    finally:
        await admin.close()


async def test_a_range_of_one_partition_is_read_as_it_is_now(kafka_bootstrap):
    # What the worker reads when Faust left messages out (streams/drivers/worker/input_gaps.py).
    from elava.kafka.clients import new_producer
    from elava.kafka.topic_read import read_between

    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"range-{uuid.uuid4().hex[:6]}",
                             partitions=2)
    await ensure_topics(settings)
    topic = Topics(settings).observations
    producer = new_producer(settings)
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(topic, f"v{n}".encode(), key=b"k", partition=1,
                                         headers=[("n", str(n).encode())])
    finally:
        await producer.stop()
    got = await read_between(settings, topic, 1, 3, 7)
    assert [(r.offset, r.value, r.key, list(r.headers)) for r in got] == [
        (n, f"v{n}".encode(), b"k", [("n", str(n).encode())]) for n in range(3, 7)]
    assert [r.offset for r in await read_between(settings, topic, 1, 8, 50)] == [8, 9]  # past the end: what is there
    assert await read_between(settings, topic, 0, 0, 5) == []  # an empty partition
