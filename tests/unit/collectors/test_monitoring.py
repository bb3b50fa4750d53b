"""Monitoring family: CloudWatch log groups, their retention and key."""

from __future__ import annotations

from elava.catalogue import registry
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"


@covers("logs.log-group")
async def test_log_groups_with_their_retention_and_tags(scan, boto):
    logs = boto("logs")
    logs.create_log_group(logGroupName="/aws/lambda/orders-api", tags={"team": "orders"})
    logs.put_retention_policy(logGroupName="/aws/lambda/orders-api", retentionInDays=30)
    for i in range(51):  # two pages of 50
        logs.create_log_group(logGroupName=f"/app/forever-{i:02}")

    run = await scan([registry.get("logs.log-group")])

    groups = {r.id: r for r in run.resources("logs.log-group")}
    assert len(groups) == 52
    orders = groups["/aws/lambda/orders-api"]
    assert orders.uid == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/orders-api"  # no ":*"
    assert (orders.type, orders.name, orders.tags) == ("logs.log-group", "/aws/lambda/orders-api", {"team": "orders"})
    assert (orders.attributes["retention_days"], orders.attributes["never_expires"]) == (30, False)
    assert groups["/app/forever-00"].attributes["never_expires"] is True
    assert "storedBytes" not in str(orders.attributes)
    assert run.report.calls_by_type() == {"logs.log-group": 2}  # tags in bulk (shared_calls)
