"""The generic scanner: shards, pages, markers, failures, throttling, retries."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest
from botocore.exceptions import EndpointConnectionError

from collectors.exceptions import SinkError
from collectors.sink import ListSink
from elava.catalogue import registry
from elava.catalogue.types import ResourceType
from elava.events import digest
from elava.sharding import all_shards, shard_of

ACCOUNT = "123456789012"
INSTANCE = registry.get("ec2.instance")
GROUP = registry.get("ec2.security-group")
BUCKET = registry.get("s3.bucket")


def _launch(ec2, ami: str, reservations: int) -> list[str]:
    # One reservation each: moto pages describe_instances by reservation.
    return [ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
            for _ in range(reservations)]


async def test_markers_cover_every_shard_with_its_ids(scan, boto, ami):
    launched = _launch(boto("ec2"), ami, 9)

    run = await scan([INSTANCE], buckets=5, page_size=2)

    markers = run.markers("ec2.instance")
    assert [m.shard for m in markers] == all_shards(ACCOUNT, "us-east-1", "ec2.instance", 5)
    expected = defaultdict(list)
    for resource in run.resources("ec2.instance"):
        expected[shard_of(resource.uid, ACCOUNT, "us-east-1", "ec2.instance", 5)].append(resource.id)
    for marker in markers:
        ids = sorted(expected.get(marker.shard, []))
        assert (marker.status, marker.count, marker.ids, marker.ids_digest) == ("ok", len(ids), ids, digest(ids))
        assert marker.scan_id == "scan-1" and marker.started_at <= marker.finished_at
    assert sorted(i for m in markers for i in m.ids) == sorted(launched)


async def test_empty_shards_and_empty_scans_still_get_complete_markers(scan):
    run = await scan([INSTANCE], buckets=16)  # no instance at all

    markers = run.markers("ec2.instance")
    assert len(markers) == 16 and run.sink.observations == []
    assert all((m.status, m.count, m.ids, m.ids_digest) == ("ok", 0, [], digest([])) for m in markers)


async def test_pages_hold_at_most_page_size_and_are_numbered_per_shard(scan, boto, ami):
    _launch(boto("ec2"), ami, 7)

    run = await scan([INSTANCE], buckets=2, page_size=2)

    pages = defaultdict(list)
    for obs in run.sink.observations:
        assert 1 <= len(obs.resources) <= 2
        assert all(shard_of(r.uid, ACCOUNT, "us-east-1", "ec2.instance", 2) == obs.shard for r in obs.resources)
        pages[obs.shard].append(obs.page)
    assert all(numbers == list(range(len(numbers))) for numbers in pages.values())
    observed_at = {obs.observed_at for obs in run.sink.observations}
    assert len(observed_at) == 1 and observed_at.pop().tzinfo is not None  # the listing's start, UTC
    assert len(run.resources("ec2.instance")) == 7


async def test_access_denied_on_one_type_fails_only_that_type(scan, boto, ami, faults):
    _launch(boto("ec2"), ami, 2)
    boto("s3").create_bucket(Bucket="still-visible")
    faults.fail("before-call.ec2.DescribeSecurityGroups", "UnauthorizedOperation")

    run = await scan([INSTANCE, GROUP, BUCKET], buckets=3)

    failed = run.markers("ec2.security-group")
    assert len(failed) == 3
    assert all(m.status == "failed" and m.error_class == "access-denied" and m.ids == [] for m in failed)
    assert "UnauthorizedOperation" in failed[0].error
    assert all(m.status == "ok" for m in run.markers("ec2.instance") + run.markers("s3.bucket"))
    assert len(run.resources("ec2.instance")) == 2 and len(run.resources("s3.bucket")) == 1
    report = run.report
    assert report.partial
    assert [(r.region, r.type, r.error_class) for r in report.failures()] == [
        ("us-east-1", "ec2.security-group", "access-denied")]


@pytest.mark.parametrize(("code", "error_class"), [
    ("RequestLimitExceeded", "throttled"),
    ("OptInRequired", "region-disabled"),
    ("InvalidClientTokenId", "access-denied"),  # credentials refused
    ("ExpiredToken", "access-denied"),
    ("InternalError", "other"),
])
async def test_failed_markers_say_why(scan, faults, code, error_class):
    faults.fail("before-call.ec2.DescribeSecurityGroups", code)

    run = await scan([GROUP], buckets=1)

    [marker] = run.markers("ec2.security-group")
    assert (marker.status, marker.error_class, marker.count, marker.ids_digest) == ("failed", error_class, 0, "")


async def test_connection_failures_are_endpoint_errors(scan, faults):
    faults.fail("before-call.ec2.DescribeSecurityGroups",
                exception=EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com"))

    run = await scan([GROUP], buckets=1)

    [marker] = run.markers("ec2.security-group")
    assert (marker.status, marker.error_class) == ("failed", "endpoint-error")


async def test_a_failure_mid_listing_keeps_the_pages_sent_but_never_claims_complete(scan, boto, ami, faults):
    _launch(boto("ec2"), ami, 8)
    paged = dataclasses.replace(INSTANCE, list_params={"MaxResults": 5})
    faults.fail("before-call.ec2.DescribeInstances", "AuthFailure", when=lambda request: "NextToken" in request["body"])

    run = await scan([paged], buckets=1, page_size=1)

    assert len(run.sink.observations) == 5  # the first listing page, flushed: true observations
    [marker] = run.markers("ec2.instance")
    assert (marker.status, marker.error_class, marker.ids) == ("failed", "access-denied", [])


async def test_throttling_on_a_third_of_the_calls_still_gives_a_complete_scan(scan, boto, ami, faults):
    launched = _launch(boto("ec2"), ami, 12)
    boto("s3").create_bucket(Bucket="bucket-a")
    boto("s3").create_bucket(Bucket="bucket-b")
    paged = dataclasses.replace(INSTANCE, list_params={"MaxResults": 5})  # throttled pages resume in place
    for service in ("ec2", "s3"):
        faults.fail(f"before-call.{service}", "Throttling", probability=0.3, seed=42)

    run = await scan([paged, GROUP, BUCKET], buckets=4)

    assert faults.injected, "the hook should have throttled some calls"
    assert not run.report.partial
    assert all(m.status == "ok" for m in run.sink.markers)
    assert sorted(r.id for r in run.resources("ec2.instance")) == sorted(launched)
    assert {r.id for r in run.resources("s3.bucket")} == {"bucket-a", "bucket-b"}
    # Every attempt is counted: more calls than an unthrottled scan needs.
    # instances: 3 pages + 12 user-data calls; groups: 1; buckets: 1 list + the account's public access
    # block + 2 x (location + 6 details: encryption, public access block, versioning, emptiness, ACL, policy
    # status) + the tags of both in bulk (shared_calls: one call, or more if it was throttled too)
    assert run.report.calls == len(faults.injected) + (3 + 12) + 1 + (1 + 1 + 2 * 7) + 1


async def test_a_throttled_page_is_retried_in_place_not_from_the_start(scan, boto, ami, faults):
    launched = _launch(boto("ec2"), ami, 12)
    paged = dataclasses.replace(INSTANCE, list_params={"MaxResults": 5})
    faults.fail("before-call.ec2.DescribeInstances", "RequestLimitExceeded", times=3,
                when=lambda request: "NextToken" in request["body"])

    run = await scan([paged], buckets=1, page_size=100)

    assert faults.injected == ["DescribeInstances"] * 3
    assert sorted(r.id for r in run.resources("ec2.instance")) == sorted(launched)
    # 3 pages + 3 retried attempts + 12 user-data calls: the first page was not asked twice.
    assert run.report.results[("us-east-1", "ec2.instance")].calls == 3 + 3 + 12


async def test_botocore_retries_throttling_answers_too(scan, session, boto):
    boto("ec2").create_security_group(GroupName="retried", Description="x")
    throttled = []

    async def throttle_first_request(request, **_):
        if not throttled:  # an HTTP 400 RequestLimitExceeded, as EC2 answers it
            throttled.append(request.url)
            return _http_answer(400, b"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                                     b"<Message>slow down</Message></Error></Errors><RequestID>r</RequestID></Response>")
        return None

    session.events.register("before-send.ec2.DescribeSecurityGroups", throttle_first_request)

    run = await scan([GROUP], buckets=1)

    assert throttled and not run.report.partial
    assert run.report.results[("us-east-1", "ec2.security-group")].calls == 1  # retried inside botocore


async def test_a_type_whose_listing_does_not_paginate_is_one_call(scan, boto):
    ec2 = boto("ec2")
    ec2.create_key_pair(KeyName="ops")
    ec2.create_key_pair(KeyName="ci")
    key_pair = ResourceType(
        name="ec2.key-pair", service="ec2", list_operation="describe_key_pairs", result_path="KeyPairs",
        id_field="KeyPairId", name_field="KeyName", tags_from="inline:Tags",
        arn_template="arn:{partition}:ec2:{region}:{account}:key-pair/{id}",
        attributes={"fingerprint": "KeyFingerprint"},
    )

    run = await scan([key_pair], buckets=1)

    assert {r.name for r in run.resources("ec2.key-pair")} == {"ops", "ci"}
    assert run.report.calls_by_type() == {"ec2.key-pair": 1}


async def test_a_failing_sink_ends_the_scan(scan):
    class BrokenSink(ListSink):
        async def marker(self, marker):
            raise ConnectionError("broker gone")

    with pytest.raises(SinkError, match="broker gone"):
        await scan([GROUP], buckets=1, sink=BrokenSink())


def _http_answer(status: int, body: bytes):
    from aiobotocore.awsrequest import AioAWSResponse
    from botocore.awsrequest import HeadersDict

    class Body:
        async def read(self) -> bytes:
            return body

    return AioAWSResponse("http://moto", status, HeadersDict({"Content-Type": "text/xml"}), Body())


async def test_a_batch_refused_because_one_item_went_is_asked_again_item_by_item(scan, boto, faults):
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
               ["Subnet"]["SubnetId"] for i, z in enumerate("ab")]
    elbv2 = boto("elbv2")
    arns = {name: elbv2.create_load_balancer(Name=name, Subnets=subnets, Tags=[{"Key": "n", "Value": name}])
            ["LoadBalancers"][0]["LoadBalancerArn"] for name in ("kept-1", "doomed", "kept-2")}
    # As if "doomed" were deleted after the listing: AWS refuses the whole describe_tags.
    faults.fail("before-call.elastic-load-balancing-v2.DescribeTags", "LoadBalancerNotFound",
                when=lambda request: arns["doomed"] in str(request["body"]))

    run = await scan([registry.get("elbv2.load-balancer")], buckets=1)

    assert {r.name: r.tags for r in run.resources("elbv2.load-balancer")} == {
        "kept-1": {"n": "kept-1"}, "kept-2": {"n": "kept-2"}}  # "doomed" is absent, not tagless
    assert not run.report.partial
    # list; the refused batch; each balancer alone (doomed refused again); listeners and target
    # groups of the two kept
    assert run.report.calls_by_type() == {"elbv2.load-balancer": 1 + 1 + 3 + 2 + 2}


async def test_a_parent_gone_between_the_listings_has_no_children(scan, boto, faults):
    ecs = boto("ecs")
    task = ecs.register_task_definition(family="app", containerDefinitions=[
        {"name": "app", "image": "nginx", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
    for cluster in ("kept", "gone"):
        ecs.create_cluster(clusterName=cluster)
        ecs.create_service(cluster=cluster, serviceName="svc", taskDefinition=task, desiredCount=1)
    faults.fail("before-call.ecs.ListServices", "ClusterNotFoundException",
                when=lambda request: b"cluster/gone" in request["body"])

    run = await scan([registry.get("ecs.service")], buckets=1)

    assert [r.uid for r in run.resources("ecs.service")] == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/kept/svc"]
    assert not run.report.partial
