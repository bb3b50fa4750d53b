"""A trail event's uid is byte-identical to the uid the collector gives the same resource.

Each collector uid is built here by the collector's own code (`build_resource`) from a
listed item as the AWS API returns it, and compared with the uid read from the
CloudTrail fixture of a call on that same resource.
"""

from __future__ import annotations

import pytest

from collectors.aws import registry
from collectors.aws.build import build_resource
from collectors.aws.normalize import partition_for as collector_partition
from elava.sharding import GLOBAL_REGION
from streams.attribution.arns import ARN_TEMPLATES, GLOBAL_TYPES, partition_for
from streams.attribution.records import place_of
from streams.attribution.resources import touched_resources
from tests.unit.streams.attribution.trail_fixtures import ACCOUNT, family_records

A, EU = ACCOUNT, "eu-west-1"
ALB_ARN = f"arn:aws:elasticloadbalancing:{EU}:{A}:loadbalancer/app/web-alb/50dc6c495c0c9188"

# type -> (listed item as the API returns it, scan region, family fixture, record index)
LISTED = {
    "ec2.instance": ({"InstanceId": "i-0a1b2c3d4e5f60001", "State": {"Name": "running"}}, EU, "ec2-instances", 1),
    "ec2.volume": ({"VolumeId": "vol-0f1e2d3c4b5a60001"}, EU, "ebs-volumes", 0),
    "ec2.snapshot": ({"SnapshotId": "snap-0123456789abcdef0", "OwnerId": A}, EU, "ebs-snapshots", 0),
    "ec2.image": ({"ImageId": "ami-0fedcba9876543210", "OwnerId": A}, EU, "amis", 0),
    "ec2.security-group": ({"GroupId": "sg-0123456789abcdef0", "GroupName": "web", "OwnerId": A,
                            "SecurityGroupArn": f"arn:aws:ec2:{EU}:{A}:security-group/sg-0123456789abcdef0"},
                           EU, "security-groups", 1),
    "ec2.vpc": ({"VpcId": "vpc-0f1e2d3c4b5a60001"}, EU, "vpc-network", 0),
    "ec2.subnet": ({"SubnetId": "subnet-0c1d2e3f4a5b60001",
                    "SubnetArn": f"arn:aws:ec2:{EU}:{A}:subnet/subnet-0c1d2e3f4a5b60001"}, EU, "vpc-network", 2),
    "ec2.nat-gateway": ({"NatGatewayId": "nat-0123456789abcdef0", "State": "available"}, EU, "vpc-network", 5),
    "ec2.elastic-ip": ({"AllocationId": "eipalloc-0a1b2c3d4e5f60001", "PublicIp": "198.51.100.10"}, EU,
                       "vpc-network", 4),
    "s3.bucket": ({"Name": "acme-logs", "Region": "us-west-2"}, "us-west-2", "s3-buckets", 1),
    "lambda.function": ({"FunctionName": "orders-api", "FunctionArn": f"arn:aws:lambda:{EU}:{A}:function:orders-api"},
                        EU, "lambda-functions", 6),
    "eks.cluster": ({"name": "platform", "Cluster": {"arn": f"arn:aws:eks:{EU}:{A}:cluster/platform"}}, EU,
                    "eks-clusters", 1),
    "ecs.cluster": ({"clusterArn": f"arn:aws:ecs:{EU}:{A}:cluster/web", "Cluster": {"clusterName": "web"}}, EU,
                    "ecs", 2),
    "ecs.service": ({"serviceArn": f"arn:aws:ecs:{EU}:{A}:service/web/frontend",
                     "Service": {"serviceName": "frontend"}}, EU, "ecs", 5),
    "rds.instance": ({"DBInstanceIdentifier": "orders-db", "DBInstanceArn": f"arn:aws:rds:{EU}:{A}:db:orders-db"}, EU,
                     "rds", 0),
    "rds.cluster": ({"DBClusterIdentifier": "orders-aurora",
                     "DBClusterArn": f"arn:aws:rds:{EU}:{A}:cluster:orders-aurora"}, EU, "rds", 5),
    "dynamodb.table": ({"TableName": "orders", "Table": {"TableArn": f"arn:aws:dynamodb:{EU}:{A}:table/orders"}}, EU,
                       "dynamodb-tables", 1),
    "elasticache.cluster": ({"CacheClusterId": "sessions-cache",
                             "ARN": f"arn:aws:elasticache:{EU}:{A}:cluster:sessions-cache"}, EU,
                            "elasticache-clusters", 1),
    "elbv2.load-balancer": ({"LoadBalancerArn": ALB_ARN, "LoadBalancerName": "web-alb"}, EU, "elbv2", 1),
    "iam.role": ({"RoleName": "deploy-role", "Path": "/", "Arn": f"arn:aws:iam::{A}:role/deploy-role"},
                 GLOBAL_REGION, "iam-roles", 2),
    "kms.key": ({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
                 "KeyArn": f"arn:aws:kms:{EU}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                 "Key": {"KeyManager": "CUSTOMER"}}, EU, "kms-keys", 4),
    "ecr.repository": ({"repositoryName": "team/orders-api", "registryId": A,
                        "repositoryArn": f"arn:aws:ecr:{EU}:{A}:repository/team/orders-api"}, EU,
                       "ecr-repositories", 1),
    "route53.hosted-zone": ({"Id": "/hostedzone/Z1D633PJN98FT9", "Name": "example.com."}, GLOBAL_REGION,
                            "route53-hosted-zones", 1),
}
# Types whose uid a record can only guess from a name (tested with an exact ARN instead).
GUESSED_FROM_NAMES = {"autoscaling.group"}


def _trail_uid(type_name: str, fixture: str, index: int) -> tuple[str, str]:
    record = family_records(fixture)[index]
    [touched] = [t for t in touched_resources(record, place_of(record)) if t.type == type_name]
    return touched.uid, touched.id


@pytest.mark.parametrize("type_name", sorted(LISTED))
def test_trail_uid_and_id_equal_the_collectors(type_name):
    item, region, fixture, index = LISTED[type_name]
    observed = build_resource(registry.get(type_name), item, account=A, region=region)
    assert _trail_uid(type_name, fixture, index) == (observed.uid, observed.id)


def test_every_registered_type_is_compared():
    assert {rt.name for rt in registry.all_types()} == set(LISTED) | GUESSED_FROM_NAMES


def test_an_auto_scaling_group_arn_from_a_record_equals_the_collectors():
    from streams.attribution.arns import from_arn

    arn = (f"arn:aws:autoscaling:{EU}:{A}:autoScalingGroup:6d9f2f8e-3a1b-4c5d-8e7f-0a1b2c3d4e5f"
           ":autoScalingGroupName/web-asg")
    observed = build_resource(registry.get("autoscaling.group"),
                              {"AutoScalingGroupARN": arn, "AutoScalingGroupName": "web-asg"}, account=A, region=EU)
    touched = from_arn(arn)
    assert (touched.uid, touched.id, touched.type) == (observed.uid, observed.id, observed.type)


def test_arn_templates_are_the_registrys():
    for rt in registry.all_types():
        if rt.arn_template:
            assert ARN_TEMPLATES.get(rt.name) == rt.arn_template, rt.name


def test_global_types_are_the_registrys():
    assert GLOBAL_TYPES == {rt.name for rt in registry.all_types() if rt.global_service}


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1",
                                    "us-isob-east-1", "eusc-de-east-1", "global"])
def test_partitions_are_the_collectors(region):
    assert partition_for(region) == collector_partition(region)
