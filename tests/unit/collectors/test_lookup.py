"""One resource by id: built exactly as a scan builds it, None once it is gone."""

from __future__ import annotations

import random
from contextlib import AsyncExitStack

import pytest

from collectors.aws.calls import AwsCaller, ClientPool
from collectors.aws.lookup import describe_resource
from elava.catalogue import registry
from elava.catalogue.exceptions import InvalidResourceType
from elava.catalogue.types import Lookup, ParentListing, ResourceType
from tests.unit.collectors.conftest import ACCOUNT, FAST_BACKOFF, REDACTOR


async def look(session, aws, type_name: str, rid: str, region: str = "us-east-1"):
    async with AsyncExitStack() as stack:
        clients = ClientPool(session, stack, max_concurrency=4, endpoint_url=aws)
        caller = AwsCaller(FAST_BACKOFF, random.Random(1))
        return await describe_resource(clients, caller, registry.get(type_name), account=ACCOUNT, region=region,
                                       rid=rid, redactor=REDACTOR)


def _made(boto, ami: str) -> dict[str, str]:
    """One resource of each type that declares a lookup, tagged."""
    ec2, s3 = boto("ec2"), boto("s3")
    tag = [{"Key": "team", "Value": "a"}]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                 TagSpecifications=[{"ResourceType": "instance", "Tags": tag}])["Instances"][0]
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8,
                               TagSpecifications=[{"ResourceType": "volume", "Tags": tag}])["VolumeId"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    s3.create_bucket(Bucket="looked-at")
    s3.put_bucket_tagging(Bucket="looked-at", Tagging={"TagSet": tag})
    s3.create_bucket(Bucket="looked-at-too")  # a prefix of another: the exact one is kept
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    for name in ("orders", "orders-dlq"):  # QueueNamePrefix "orders" lists both
        boto("sqs").create_queue(QueueName=name, tags={"team": "a"})
    for name in ("/app/web", "/app/web-old"):
        boto("logs").create_log_group(logGroupName=name, tags={"team": "a"})
    boto("elb").create_load_balancer(LoadBalancerName="legacy", Subnets=[subnet], Tags=tag, Listeners=[
        {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
    return {
        "ec2.instance": instance["InstanceId"],
        "ec2.volume": volume,
        "ec2.snapshot": ec2.create_snapshot(VolumeId=volume)["SnapshotId"],
        "ec2.image": ec2.create_image(InstanceId=instance["InstanceId"], Name="img")["ImageId"],
        "ec2.security-group": ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"],
        "ec2.vpc": vpc,
        "ec2.subnet": subnet,
        "s3.bucket": "looked-at",
        "sqs.queue": "orders",
        "logs.log-group": "/app/web",
        "elb.load-balancer": "legacy",
        "rds.instance": boto("rds").create_db_instance(
            DBInstanceIdentifier="db-1", DBInstanceClass="db.t3.micro", Engine="postgres",
            MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20)[
            "DBInstance"]["DBInstanceIdentifier"],
        "rds.cluster": boto("rds").create_db_cluster(
            DBClusterIdentifier="cl-1", Engine="aurora-postgresql", MasterUsername="admin",
            MasterUserPassword="password123")["DBCluster"]["DBClusterIdentifier"],
    }


async def test_a_looked_up_resource_is_the_resource_a_scan_builds(scan, boto, ami, session, aws):
    made = _made(boto, ami)
    types = [t for t in registry.all_types() if t.lookup]
    assert sorted(made) == sorted(t.name for t in types)  # a new lookup gets a case here
    scanned = {r.uid: r for r in (await scan(types)).resources()}
    for type_name, rid in made.items():
        looked = await look(session, aws, type_name, rid)
        assert looked is not None, type_name
        assert looked == scanned[looked.uid], type_name
        assert looked.id == rid


async def test_a_resource_that_is_gone_is_none(boto, ami, session, aws):
    ec2 = boto("ec2")
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[instance])  # still listed by AWS for an hour: gone for us
    assert await look(session, aws, "ec2.instance", instance) is None
    assert await look(session, aws, "ec2.instance", "i-0123456789abcdef0") is None
    assert await look(session, aws, "ec2.volume", "vol-0123456789abcdef0") is None
    assert await look(session, aws, "s3.bucket", "no-such-bucket") is None
    assert await look(session, aws, "sqs.queue", "no-such-queue") is None
    assert await look(session, aws, "logs.log-group", "/no/such/group") is None
    assert await look(session, aws, "elb.load-balancer", "no-such-balancer") is None


async def test_current_tags_are_what_aws_says_now(boto, ami, session, aws):
    ec2 = boto("ec2")
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "owner", "Value": "bob"}])
    looked = await look(session, aws, "ec2.instance", instance)
    assert looked.tags == {"owner": "bob"} and looked.attributes["state"] == "running"


async def test_a_type_without_lookup_cannot_be_looked_at(session, aws):
    with pytest.raises(InvalidResourceType, match="declares no lookup"):
        await look(session, aws, "lambda.function", "f")


def test_a_lookup_needs_a_plain_id_field_or_an_id_param():
    with pytest.raises(InvalidResourceType, match="plain field name"):
        ResourceType(name="x.y", service="x", list_operation="list", result_path="Items", id_field="a.b",
                     arn_template="arn:{id}", lookup=Lookup())
    with pytest.raises(InvalidResourceType, match="parent"):
        ResourceType(name="x.y", service="x", list_operation="list", result_path="Items", id_field="Id",
                     arn_template="arn:{id}", lookup=Lookup("Ids"),
                     parent=ParentListing("list_parents", "Parents", {"P": "Id"}, "Parent"))
