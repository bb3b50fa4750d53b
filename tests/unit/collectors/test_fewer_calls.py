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


def _table_status(run, name: str) -> str:
    return next(r for r in run.resources("dynamodb.table") if r.id == name).attributes["status"]


async def test_details_that_showed_a_settling_state_are_asked_again_until_it_settles(scan, boto, session):
    """AWS ends a table's UPDATING on its own, with no CloudTrail event: details that showed it are
    not reused (moto's tables are always ACTIVE, so the first answer is made UPDATING here)."""
    make_estate(boto, count=2)
    updating = {"table-1"}

    def still_updating(parsed: dict, **_: object) -> None:
        table = parsed.get("Table") or {}
        if table.get("TableName") in updating:
            table["TableStatus"] = "UPDATING"

    session.events.register("after-call.dynamodb.DescribeTable", still_updating)
    clock = Clock()
    cache = DetailCache(REFRESH, clock=clock)
    types = [registry.get("dynamodb.table")]
    first = await scan(types, details=cache)
    assert (_table_status(first, "table-0"), _table_status(first, "table-1")) == ("ACTIVE", "UPDATING")

    updating.clear()  # AWS finished the update
    clock.now += timedelta(minutes=10)
    run = await scan(types, details=cache, scan_id="scan-2")

    assert _table_status(run, "table-1") == "ACTIVE"  # not the 6 h refresh
    assert run.report.calls_by_type()["dynamodb.table"] == 1 + 2  # the listing, table-1's describe and backups
    steady = await scan(types, details=cache, scan_id="scan-3")
    assert steady.report.calls_by_type()["dynamodb.table"] == 1  # settled: reused again


async def test_target_health_is_asked_every_scan_while_the_rest_of_a_balancer_is_reused(scan, boto, ami):
    """Targets' health moves with the application, never in CloudTrail: the volatile call (with the
    target groups it fans out from) is asked every scan; tags and listeners are reused."""
    from tests.unit.collectors.test_network import _load_balancer, _network

    ec2, elbv2 = boto("ec2"), boto("elbv2")
    vpc, subnets = _network(ec2)
    web = _load_balancer(elbv2, "web", subnets)
    group = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=web, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    cache, rt = DetailCache(REFRESH, clock=Clock()), registry.get("elbv2.load-balancer")
    first = await scan([rt], details=cache)
    assert first.resources(rt.name)[0].attributes["target_health"]["targets"] == 0

    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]["InstanceId"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": instance}])
    run = await scan([rt], details=cache, scan_id="scan-2")

    assert run.resources(rt.name)[0].attributes["target_health"]["targets"] == 1
    assert run.report.calls_by_type() == {rt.name: 1 + 1 + 1}  # the listing, the groups, their health


async def test_a_tagged_resource_missing_from_a_lagging_tag_index_keeps_its_tags(scan, boto, session):
    """GetResources is eventually consistent: a bucket it leaves out that had tags is asked alone,
    not published untagged (a false change); one that never had tags costs nothing more."""
    make_estate(boto, count=2)

    def lagging(parsed: dict, **_: object) -> None:
        parsed["ResourceTagMappingList"] = [mapping for mapping in parsed.get("ResourceTagMappingList") or []
                                            if not mapping["ResourceARN"].endswith(":bucket-0")]

    cache = DetailCache(REFRESH, clock=Clock())
    types = [registry.get("s3.bucket")]
    first = await scan(types, details=cache)
    session.events.register("after-call.resource-groups-tagging-api.GetResources", lagging)
    run = await scan(types, details=cache, scan_id="scan-2")

    assert _by_uid(run) == _by_uid(first)
    assert next(r for r in run.resources() if r.id == "bucket-0").tags == _tags(0)
    assert run.report.calls_by_type()["s3.bucket"] == 1 + 1 + 1  # the listing, the account's block, bucket-0's tags
