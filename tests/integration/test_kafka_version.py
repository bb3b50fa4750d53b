"""The integration suite runs on the Kafka version it was asked for (``KAFKA_VERSION``).

A pass meant for Kafka 4.4.0 that silently ran 3.9.1 would report 4.4.0 as working.
"""

from __future__ import annotations

import pytest

from tests.integration.broker_version import (
    LATEST_METADATA_VERSION,
    release_line,
    supported_features,
    versions_in_log,
)

pytestmark = pytest.mark.integration


async def test_the_broker_runs_the_requested_kafka_version(kafka_broker):
    if kafka_broker.version is None:
        pytest.skip("ELAVA_TEST_BOOTSTRAP names a broker but KAFKA_VERSION is unset: "
                    "nothing says which Kafka it should run, so its version is not checked")
    line = release_line(kafka_broker.version)
    assert line in LATEST_METADATA_VERSION, (
        f"add Kafka {line}'s MetadataVersion.LATEST_PRODUCTION level to LATEST_METADATA_VERSION")
    # Any broker, given or started: its release line, from what it supports over the wire.
    _, newest = (await supported_features(kafka_broker.bootstrap))["metadata.version"]
    lines = [name for name, level in LATEST_METADATA_VERSION.items() if level == newest]
    assert newest == LATEST_METADATA_VERSION[line], (
        f"asked for Kafka {kafka_broker.version}; the broker supports metadata.version up to {newest} "
        f"({' or '.join(lines) or 'a release line not in the table'})")
    # A broker we started: the exact version, as it printed it.
    if kafka_broker.startup_log is not None:
        assert versions_in_log(kafka_broker.startup_log()) == {kafka_broker.version}
