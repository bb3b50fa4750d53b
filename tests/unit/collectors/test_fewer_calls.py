"""Fewer AWS calls per resource: tags in bulk, details reused while nothing changed, and the
full-refresh tier and CloudTrail touches that keep reused details honest (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.aws.detail_cache import DetailCache
from collectors.cloudtrail.sink import events_of
from elava.catalogue import registry
from tests.unit.collectors.conftest import ACCOUNT
from tests.unit.collectors.test_compute import _role, _zip

BULK_TYPES = ["dynamodb.table", "kms.key", "lambda.function", "logs.log-group", "s3.bucket", "sqs.queue"]
REFRESH = timedelta(hours=6)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _tags(n: int) -> dict[str, str]:
    return {"team": f"team-{n}", "Name": f"r-{n}"} if n % 2 == 0 else {}


def make_estate(boto, count: int = 4) -> None:
    s3, ddb, sqs, logs = boto("s3"), boto("dynamodb"), boto("sqs"), boto("logs")
    kms, awslambda = boto("kms"), boto("lambda")
    role = _role(boto)
    for n in range(count):
        pairs = [{"Key": key, "Value": value} for key, value in _tags(n).items()]
        s3.create_bucket(Bucket=f"bucket-{n}")
        if pairs:
            s3.put_bucket_tagging(Bucket=f"bucket-{n}", Tagging={"TagSet": pairs})
        ddb.create_table(TableName=f"table-{n}", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         **({"Tags": pairs} if pairs else {}))
        sqs.create_queue(QueueName=f"queue-{n}", tags=_tags(n))
        logs.create_log_group(logGroupName=f"/group/{n}", **({"tags": _tags(n)} if pairs else {}))
        kms.create_key(Description=f"key {n}", Tags=[{"TagKey": k, "TagValue": v} for k, v in _tags(n).items()])
        awslambda.create_function(FunctionName=f"fn-{n}", Runtime="python3.12", Role=role, Handler="app.handler",
                                  Code={"ZipFile": _zip()}, Tags=_tags(n))


def _by_uid(run) -> dict[str, object]:
    return {resource.uid: resource for resource in run.resources()}


async def test_tags_in_bulk_equal_the_per_resource_tags(scan, boto, faults):
    make_estate(boto)
    types = [registry.get(name) for name in BULK_TYPES]
    bulk = await scan(types)
    faults.fail("before-call.resource-groups-tagging-api.GetResources", "AccessDeniedException")
    per_resource = await scan(types, scan_id="scan-2")

    assert not bulk.report.partial and not per_resource.report.partial
    assert bulk.report.shared_calls >= 1 and per_resource.report.shared_calls == 1  # refused once, then asked per resource
    assert _by_uid(bulk) == _by_uid(per_resource)  # the whole resource, tags included
    tagged = [resource for resource in bulk.resources() if resource.tags]
    assert {resource.type for resource in tagged} == set(BULK_TYPES)
    # one tag call per resource fewer for every type (the bulk listing is shared)
    for name in BULK_TYPES:
        count = len(bulk.resources(name))
        assert bulk.report.calls_by_type()[name] == per_resource.report.calls_by_type()[name] - count, name


async def test_a_steady_cycle_with_nothing_changed_makes_at_most_a_fifth_of_a_call_per_resource(scan, boto):
    make_estate(boto, count=6)
    ec2 = boto("ec2")
    for _ in range(10):
        ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)
    types = [registry.get(name) for name in [*BULK_TYPES, "ec2.volume"]]
    cache = DetailCache(REFRESH, clock=Clock())
    first = await scan(types, details=cache)
    steady = await scan(types, details=cache, scan_id="scan-2")

    resources = len(steady.resources())
    assert resources == len(first.resources()) == 6 * len(BULK_TYPES) + 10
    assert steady.report.calls / resources <= 0.2, steady.report.calls_by_type()
    assert first.report.calls / resources > 1  # the first scan asks every detail
    assert _by_uid(steady) == _by_uid(first)  # reused details make the same resources


def _bucket_versioning(run, name: str) -> str:
    return next(r for r in run.resources("s3.bucket") if r.id == name).attributes["versioning"]


def _table_recovery(run, name: str) -> str:
    return next(r for r in run.resources("dynamodb.table") if r.id == name).attributes["point_in_time_recovery"]


async def _changed_behind_the_listing(scan, boto, cache):
    """Scan, then change a bucket's versioning and a table's point-in-time recovery: neither shows in
    its listing (ListBuckets gives names and dates, ListTables names)."""
    make_estate(boto, count=2)
    types = [registry.get("s3.bucket"), registry.get("dynamodb.table")]
    first = await scan(types, details=cache)
    assert _bucket_versioning(first, "bucket-1") == "Disabled" and _table_recovery(first, "table-1") == "DISABLED"
    boto("s3").put_bucket_versioning(Bucket="bucket-1", VersioningConfiguration={"Status": "Enabled"})
    boto("dynamodb").update_continuous_backups(
        TableName="table-1", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    return types


async def test_a_change_behind_the_listing_is_found_by_the_full_refresh(scan, boto):
    clock = Clock()
    cache = DetailCache(REFRESH, clock=clock)
    types = await _changed_behind_the_listing(scan, boto, cache)

    clock.now += timedelta(minutes=10)
    unrefreshed = await scan(types, details=cache, scan_id="scan-2")
    # Nothing named them and the refresh is not due: the details asked 10 minutes ago stand.
    assert _bucket_versioning(unrefreshed, "bucket-1") == "Disabled"
    assert _table_recovery(unrefreshed, "table-1") == "DISABLED"

    clock.now += REFRESH  # the bound: within detail_refresh_interval of the last ask
    refreshed = await scan(types, details=cache, scan_id="scan-3")
    assert _bucket_versioning(refreshed, "bucket-1") == "Enabled"
    assert _table_recovery(refreshed, "table-1") == "ENABLED"
    assert refreshed.report.calls_by_type()["s3.bucket"] > 2 * len(refreshed.resources("s3.bucket"))


def _record(source: str, name: str, request: dict, *, read_only: bool = False) -> dict:
    return {"eventVersion": "1.09", "eventTime": "2026-11-02T10:05:00Z", "eventSource": source, "eventName": name,
            "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.24", "userAgent": "aws-cli/2.15",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "accountId": ACCOUNT},
            "requestParameters": request, "responseElements": None, "eventID": f"{name}-1", "readOnly": read_only,
            "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT}


async def test_a_change_behind_the_listing_is_found_at_once_when_cloudtrail_names_the_resource(scan, boto):
    clock = Clock()
    cache = DetailCache(REFRESH, clock=clock)
    types = await _changed_behind_the_listing(scan, boto, cache)
    clock.now += timedelta(minutes=10)
    cache.note_trail(events_of([
        _record("s3.amazonaws.com", "PutBucketVersioning", {"bucketName": "bucket-1"}),
        _record("dynamodb.amazonaws.com", "UpdateContinuousBackups", {"tableName": "table-1"}),
        _record("s3.amazonaws.com", "GetBucketVersioning", {"bucketName": "bucket-0"}, read_only=True),
    ]))

    run = await scan(types, details=cache, scan_id="scan-2")

    assert _bucket_versioning(run, "bucket-1") == "Enabled" and _table_recovery(run, "table-1") == "ENABLED"
    # Only the named ones were asked again: bucket-0 and table-0 (a read names nothing) reused theirs.
    s3_calls = run.report.calls_by_type()["s3.bucket"]
    assert s3_calls == 2 + 7  # the listing, the account's block, and bucket-1's location and six settings
    assert run.report.calls_by_type()["dynamodb.table"] == 1 + 2  # the listing, table-1's describe and backups


async def test_a_failed_scan_keeps_what_the_cache_knew_and_a_complete_one_forgets_the_gone(scan, boto, faults):
    cache = DetailCache(REFRESH, clock=Clock())
    make_estate(boto, count=2)
    types = [registry.get("sqs.queue")]
    await scan(types, details=cache)
    scope = cache.scope(ACCOUNT, "us-east-1", "sqs.queue")
    assert set(scope.entries) == {"queue-0", "queue-1"}

    faults.fail("before-call.sqs.ListQueues", "AccessDenied", times=1)
    failed = await scan(types, details=cache, scan_id="scan-2")
    assert failed.report.partial and set(scope.entries) == {"queue-0", "queue-1"}

    boto("sqs").delete_queue(QueueUrl=boto("sqs").get_queue_url(QueueName="queue-0")["QueueUrl"])
    run = await scan(types, details=cache, scan_id="scan-3")
    assert [r.id for r in run.resources()] == ["queue-1"] and set(scope.entries) == {"queue-1"}


@pytest.mark.parametrize("refresh", [timedelta(0)])
async def test_a_zero_refresh_interval_asks_every_detail_every_scan(scan, boto, refresh):
    make_estate(boto, count=2)
    cache = DetailCache(refresh, clock=Clock())
    types = [registry.get("sqs.queue")]
    first = await scan(types, details=cache)
    again = await scan(types, details=cache, scan_id="scan-2")
    assert again.report.calls == first.report.calls
