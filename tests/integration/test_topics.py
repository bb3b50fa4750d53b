import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from elava.kafka import ensure_topics
from elava.settings import KafkaSettings
from elava.topics import CATALOG

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
