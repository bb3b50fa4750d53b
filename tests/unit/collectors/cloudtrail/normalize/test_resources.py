"""The event-family table: which resources each CloudTrail call touched, by uid."""

from __future__ import annotations

import pytest

from collectors.cloudtrail.normalize.arns import Place, is_exact
from collectors.cloudtrail.normalize.calls import event_base_name
from collectors.cloudtrail.normalize.resources import (
    FAMILIES,
    family_of,
    targeted_resources,
    touched_resources,
)
from elava.catalogue import registry
from tests.unit.collectors.cloudtrail.normalize.trail_fixtures import (
    ACCOUNT,
    all_family_records,
    family_records,
    load,
)

A, EU = ACCOUNT, "eu-west-1"
INSTANCE_1 = f"arn:aws:ec2:{EU}:{A}:instance/i-0a1b2c3d4e5f60001"
INSTANCE_2 = f"arn:aws:ec2:{EU}:{A}:instance/i-0a1b2c3d4e5f60002"
VOLUME = f"arn:aws:ec2:{EU}:{A}:volume/vol-0f1e2d3c4b5a60001"
SNAPSHOT = f"arn:aws:ec2:{EU}::snapshot/snap-0123456789abcdef0"
IMAGE = f"arn:aws:ec2:{EU}::image/ami-0fedcba9876543210"
GROUP = f"arn:aws:ec2:{EU}:{A}:security-group/sg-0123456789abcdef0"
VPC = f"arn:aws:ec2:{EU}:{A}:vpc/vpc-0f1e2d3c4b5a60001"
SUBNET = f"arn:aws:ec2:{EU}:{A}:subnet/subnet-0c1d2e3f4a5b60001"
NAT = f"arn:aws:ec2:{EU}:{A}:natgateway/nat-0123456789abcdef0"
EIP = f"arn:aws:ec2:{EU}:{A}:elastic-ip/eipalloc-0a1b2c3d4e5f60001"
BUCKET = "arn:aws:s3:::acme-logs"
FUNCTION = f"arn:aws:lambda:{EU}:{A}:function:orders-api"
DB, DB_V2 = f"arn:aws:rds:{EU}:{A}:db:orders-db", f"arn:aws:rds:{EU}:{A}:db:orders-db-v2"
AURORA, AURORA_1 = f"arn:aws:rds:{EU}:{A}:cluster:orders-aurora", f"arn:aws:rds:{EU}:{A}:db:orders-aurora-1"
TABLE = f"arn:aws:dynamodb:{EU}:{A}:table/orders"
EKS = f"arn:aws:eks:{EU}:{A}:cluster/platform"
ECS_WEB, ECS_DEFAULT = f"arn:aws:ecs:{EU}:{A}:cluster/web", f"arn:aws:ecs:{EU}:{A}:cluster/default"
FRONTEND, LEGACY = f"arn:aws:ecs:{EU}:{A}:service/web/frontend", f"arn:aws:ecs:{EU}:{A}:service/legacy-api"
ASG_GUESS = f"arn:aws:autoscaling:{EU}:{A}:autoScalingGroup:*:autoScalingGroupName/web-asg"
ALB = f"arn:aws:elasticloadbalancing:{EU}:{A}:loadbalancer/app/web-alb/50dc6c495c0c9188"
ROLE_WITH_PATH = f"arn:aws:iam::{A}:role/service/orders-api-role"
DEPLOY_ROLE = f"arn:aws:iam::{A}:role/deploy-role"
LINKED_ROLE = f"arn:aws:iam::{A}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
KEY = f"arn:aws:kms:{EU}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
REPOSITORY = f"arn:aws:ecr:{EU}:{A}:repository/team/orders-api"
ZONE = "arn:aws:route53:::hostedzone/Z1D633PJN98FT9"
CACHE = f"arn:aws:elasticache:{EU}:{A}:cluster:sessions-cache"
QUEUE = f"arn:aws:sqs:{EU}:{A}:orders"
LOG_GROUP = f"arn:aws:logs:{EU}:{A}:log-group:/aws/lambda/orders-api"
CLASSIC = f"arn:aws:elasticloadbalancing:{EU}:{A}:loadbalancer/legacy-elb"

# family fixture -> the touched uids of each of its records, in order
EXPECTED: dict[str, list[list[str]]] = {
    "ec2-instances": [[INSTANCE_1, INSTANCE_2], [INSTANCE_1], [INSTANCE_1], [INSTANCE_1], [INSTANCE_1],
                      [INSTANCE_1, INSTANCE_2]],
    "ebs-volumes": [[VOLUME], [VOLUME, INSTANCE_1], [VOLUME], [VOLUME, INSTANCE_1], [VOLUME]],
    "ebs-snapshots": [[SNAPSHOT]] * 3,
    "amis": [[IMAGE]] * 3,
    "security-groups": [[GROUP]] * 7,
    # route tables and VPC endpoints are tagged too, but not observed: left out
    "ec2-tags": [[INSTANCE_1, GROUP, VOLUME, SNAPSHOT, IMAGE, VPC, SUBNET, NAT, EIP], [INSTANCE_1]],
    "vpc-network": [[VPC], [VPC], [SUBNET], [SUBNET], [EIP], [NAT], [NAT], [EIP, INSTANCE_1],
                    [],  # DisassociateAddress names only the association
                    [EIP], [f"arn:aws:ec2:{EU}:{A}:elastic-ip/198.51.100.20"], [SUBNET], [VPC]],
    "s3-buckets": [[BUCKET]] * 9 + [[], [], [BUCKET]],  # PutObject is data, GetBucketAcl reads
    "lambda-functions": [[FUNCTION]] * 5 + [[], [FUNCTION]],
    "rds": [[DB], [DB], [DB, DB_V2], [AURORA], [AURORA_1, AURORA], [AURORA], [DB], [AURORA],
            [],  # a snapshot's tags
            [AURORA_1, AURORA], [AURORA], [DB]],
    "dynamodb-tables": [[TABLE]] * 5,
    "eks-clusters": [[EKS]] * 4 + [[], [EKS]],  # a node group's tags are not the cluster's
    "ecs": [[ECS_WEB], [ECS_DEFAULT], [ECS_WEB], [ECS_WEB], [FRONTEND], [FRONTEND], [LEGACY], [FRONTEND],
            [],  # a task definition's tags
            [FRONTEND], [ECS_WEB]],
    "autoscaling-groups": [[ASG_GUESS]] * 5,
    "elbv2": [[ALB]] * 8 + [[CLASSIC]],  # the last is a classic ELB's, by name
    "classic-load-balancers": [[CLASSIC]] * 6,  # Create, Delete and AddTags in the ELBv2 family's reads
    "sqs-queues": [[QUEUE]] * 4 + [[], [QUEUE]],  # SendMessage is data
    "cloudwatch-log-groups": [[LOG_GROUP]] * 4 + [[], [LOG_GROUP], [LOG_GROUP]],  # a stream is not the group
    "iam-roles": [[ROLE_WITH_PATH], [DEPLOY_ROLE], [DEPLOY_ROLE], [DEPLOY_ROLE], [DEPLOY_ROLE], [DEPLOY_ROLE],
                  [DEPLOY_ROLE], [LINKED_ROLE],
                  [f"arn:aws:iam::{A}:role/orders-api-role"],  # named only: the path is unknown (see resolve)
                  [DEPLOY_ROLE]],
    "kms-keys": [[KEY]] * 5 + [[], [KEY], [KEY]],  # Decrypt reads
    "ecr-repositories": [[REPOSITORY]] * 4 + [[], [REPOSITORY]],  # PutImage pushes an image: not mapped
    "route53-hosted-zones": [[ZONE], [ZONE], [ZONE], [], [ZONE]],  # a health check's tags
    "elasticache-clusters": [[CACHE], [CACHE], [CACHE], [], [CACHE]],  # a replication group's tags
}


def _touched(record):
    from collectors.cloudtrail.normalize.records import place_of

    return touched_resources(record, place_of(record))


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_touched_uids_of_each_family(fixture):
    records = family_records(fixture)
    assert len(records) == len(EXPECTED[fixture])
    for record, expected in zip(records, EXPECTED[fixture], strict=True):
        assert [t.uid for t in _touched(record)] == expected, record["eventName"]


def test_every_family_fixture_has_its_expectation():
    assert {name for name, _, _ in all_family_records()} == set(EXPECTED)


def test_every_family_is_exercised_by_a_fixture_that_touches_something():
    exercised = {family_of(r["eventSource"], r["eventName"]).title for _, _, r in all_family_records() if _touched(r)}
    assert exercised == {family.title for family in FAMILIES}


def test_families_touch_only_the_types_they_declare():
    for _, _, record in all_family_records():
        family = family_of(record["eventSource"], record["eventName"])
        for touched in _touched(record):
            assert touched.type in family.types, (record["eventName"], touched)


def test_ids_are_the_collectors_ids():
    by_uid = {t.uid: t for _, _, r in all_family_records() for t in _touched(r)}
    assert by_uid[FUNCTION].id == "orders-api"
    assert by_uid[ALB].id == "app/web-alb/50dc6c495c0c9188"
    assert by_uid[FRONTEND].id == FRONTEND  # service names are unique per cluster only
    assert by_uid[ROLE_WITH_PATH].id == "orders-api-role"
    assert by_uid[ZONE].id == "Z1D633PJN98FT9"
    assert by_uid[REPOSITORY].id == "team/orders-api"
    assert by_uid[DB].id == "orders-db"  # RDS keeps identifiers lower case; the request said "Orders-DB"


def test_every_registered_resource_type_has_a_mapped_event_family():
    mapped = {type_name for family in FAMILIES for type_name in family.types}
    unmapped = sorted({rt.name for rt in registry.all_types()} - mapped)
    assert not unmapped, f"resource types no CloudTrail event family attributes: {unmapped}"


def test_families_name_only_registered_types():
    registered = {rt.name for rt in registry.all_types()}
    assert {t for family in FAMILIES for t in family.types} <= registered


def test_every_event_name_belongs_to_its_own_family_only():
    for family in FAMILIES:
        for name in family.exact:
            assert family_of(family.source, name) is family, (family.title, name)
            others = [f.title for f in FAMILIES if f is not family and f.covers(family.source, name)]
            assert not others, (name, family.title, others)


@pytest.mark.parametrize("event_name, base", [
    ("CreateFunction20150331", "CreateFunction"), ("UpdateFunctionConfiguration20150331v2", "UpdateFunctionConfiguration"),
    ("TagResource20170331v2", "TagResource"), ("CreateDistribution2020_05_31", "CreateDistribution"),
    ("RunInstances", "RunInstances"), ("PutBucketV2", "PutBucketV2"),
])
def test_api_versions_are_dropped_from_event_names(event_name, base):
    assert event_base_name(event_name) == base


def test_s3_prefixes_cover_every_bucket_setting_but_not_objects():
    for name in ("PutBucketLifecycle", "PutBucketLogging", "PutBucketOwnershipControls", "DeleteBucketTagging",
                 "DeleteBucketPublicAccessBlock", "PutBucketCors"):
        assert family_of("s3.amazonaws.com", name).title == "S3 buckets"
    for name in ("PutObject", "DeleteObject", "DeleteObjects", "GetBucketPolicy", "ListBuckets"):
        assert family_of("s3.amazonaws.com", name) is None


def test_failed_and_read_only_calls_touch_nothing_but_name_their_targets():
    failed, missing, describe, list_buckets = load("unchanged.json")["Records"]
    place = Place(A, EU)
    for record in (failed, missing, describe, list_buckets):
        assert touched_resources(record, place) == []
    assert [t.uid for t in targeted_resources(failed, place)] == [GROUP]


def test_an_auto_scaling_group_named_by_its_arn_is_exact():
    exact = (f"arn:aws:autoscaling:{EU}:{A}:autoScalingGroup:6d9f2f8e-3a1b-4c5d-8e7f-0a1b2c3d4e5f"
             ":autoScalingGroupName/web-asg")
    record = {**family_records("autoscaling-groups")[1],
              "resources": [{"accountId": A, "type": "AWS::AutoScaling::AutoScalingGroup", "ARN": exact}]}
    [touched] = _touched(record)
    assert (touched.uid, touched.id, is_exact(touched)) == (exact, exact, True)
    assert not is_exact(_touched(family_records("autoscaling-groups")[1])[0])


def test_ecs_names_without_answers_build_the_long_arn_format():
    update = {"eventSource": "ecs.amazonaws.com", "eventName": "UpdateService",
              "requestParameters": {"cluster": f"arn:aws:ecs:{EU}:{A}:cluster/web", "service": "frontend"}}
    assert [t.uid for t in _touched({**update, "recipientAccountId": A, "awsRegion": EU})] == [FRONTEND]
    create = {"eventSource": "ecs.amazonaws.com", "eventName": "CreateCluster", "requestParameters": {},
              "recipientAccountId": A, "awsRegion": EU}
    assert [t.uid for t in _touched(create)] == [ECS_DEFAULT]


@pytest.mark.parametrize("reference", [
    "orders-api", "orders-api:live", "orders-api:7", f"{A}:function:orders-api", f"{A}:function:orders-api:live",
    f"arn:aws:lambda:{EU}:{A}:function:orders-api", f"arn:aws:lambda:{EU}:{A}:function:orders-api:$LATEST",
])
def test_lambda_function_references_all_name_the_unqualified_function(reference):
    record = {"eventSource": "lambda.amazonaws.com", "eventName": "PutFunctionConcurrency20171031",
              "requestParameters": {"functionName": reference}, "recipientAccountId": A, "awsRegion": EU}
    assert [t.uid for t in _touched(record)] == [FUNCTION]


def test_kms_aliases_are_not_keys():
    record = {"eventSource": "kms.amazonaws.com", "eventName": "DisableKeyRotation",
              "requestParameters": {"keyId": "alias/orders"}, "recipientAccountId": A, "awsRegion": EU}
    assert _touched(record) == []
    record["requestParameters"]["keyId"] = f"arn:aws:kms:{EU}:{A}:alias/orders"
    assert _touched(record) == []


def test_a_resource_of_another_account_keeps_its_owner():
    other = f"arn:aws:dynamodb:{EU}:444455556666:table/shared"
    record = {"eventSource": "dynamodb.amazonaws.com", "eventName": "TagResource",
              "requestParameters": {"resourceArn": other}, "recipientAccountId": A, "awsRegion": EU}
    assert [t.uid for t in _touched(record)] == [other]


def test_unknown_sources_and_names_touch_nothing():
    assert family_of("sns.amazonaws.com", "CreateTopic") is None
    assert _touched({"eventSource": "ec2.amazonaws.com", "eventName": "CreateRouteTable",
                     "requestParameters": {"vpcId": "vpc-1"}}) == []
    assert _touched({}) == []
