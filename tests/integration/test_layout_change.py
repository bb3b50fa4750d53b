"""Changing kafka.shard_buckets around an unchanged account changes nothing (`elava scan`)."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from elava.cli.main import app
from elava.settings import load_settings
from streams.drivers.embedded.scan import embedded_scan

pytestmark = pytest.mark.integration
TYPES = ["dynamodb.table", "ec2.subnet"]


def populate(account) -> None:
    dynamodb = account.client("dynamodb")
    for n in range(30):
        dynamodb.create_table(TableName=f"orders-{n}", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ec2 = account.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    for n in range(30):
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24")


def scan_settings(account, store, buckets: int):
    return load_settings(None, storage__path=str(store), kafka__shard_buckets=buckets,
                         providers__aws__endpoint_url=account.endpoint_url)


async def test_16_then_10_then_16_buckets_gives_no_changes_and_no_deletions(account, tmp_path):
    populate(account)
    store = tmp_path / "store"
    first = await embedded_scan(scan_settings(account, store, 16), TYPES)
    assert not first.partial and len(first.outputs.changes) >= 60
    assert {c.kind for c in first.outputs.changes} == {"created"}

    # The command itself, in-process, as the issue ran it.
    result = await asyncio.to_thread(CliRunner().invoke, app, [
        "scan", "--type", TYPES[0], "--type", TYPES[1], "--endpoint-url", account.endpoint_url],
        env={"ELAVA_KAFKA__SHARD_BUCKETS": "10", "ELAVA_STORAGE__PATH": str(store), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "deleted" not in result.output and "created" not in result.output  # no changes table at all
    assert "memberships moved to kafka.shard_buckets=10" in result.output

    again = await embedded_scan(scan_settings(account, store, 10), TYPES)
    assert again.outputs.changes == [] and again.layout_moved == 0
    back = await embedded_scan(scan_settings(account, store, 16), TYPES)
    assert back.outputs.changes == [] and back.layout_moved > 0
