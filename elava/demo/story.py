"""The demo's story: what happens in the simulated account, one act at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from elava.demo.simulated import IMAGE_ID, SimulatedAccount


@dataclass
class World:
    """Ids of what the story created, for the later acts."""

    account: SimulatedAccount
    group_id: str = ""
    managed_group_id: str = ""
    instance_id: str = ""
    bucket: str = "elava-demo-logs"
    volume_id: str = ""


@dataclass(frozen=True)
class Act:
    title: str
    play: Callable[[World], None]


def resources_appear(world: World) -> None:
    ec2 = world.account.client("ec2")
    group = ec2.create_security_group(GroupName="web", Description="web servers", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": "owner", "Value": "alice"}]}])
    world.group_id = group["GroupId"]
    managed = ec2.create_security_group(GroupName="api", Description="api servers", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": "ManagedBy", "Value": "terraform"},
                                                   {"Key": "owner", "Value": "platform"}]}])
    world.managed_group_id = managed["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=world.group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    reservation = ec2.run_instances(
        ImageId=IMAGE_ID, InstanceType="t3.micro", MinCount=1, MaxCount=1, SecurityGroupIds=[world.group_id],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "Name", "Value": "web-1"}, {"Key": "owner", "Value": "alice"}]}])
    world.instance_id = reservation["Instances"][0]["InstanceId"]
    s3 = world.account.client("s3")
    s3.create_bucket(Bucket=world.bucket)
    s3.put_bucket_tagging(Bucket=world.bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "bob"}]})
    s3.put_object(Bucket=world.bucket, Key="web-1/access.log", Body=b"GET / 200\n")
    # A volume nobody attached: paid for by the GiB-month, used by nothing (waste).
    world.volume_id = ec2.create_volume(AvailabilityZone="us-east-1a", Size=100, VolumeType="gp3", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "owner", "Value": "bob"}]}])["VolumeId"]


def ssh_opened_to_world(world: World) -> None:
    world.account.client("ec2").authorize_security_group_ingress(GroupId=world.group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])


def owner_tag_removed(world: World) -> None:
    world.account.client("ec2").delete_tags(Resources=[world.instance_id], Tags=[{"Key": "owner"}])


def terraform_group_changed_by_hand(world: World) -> None:
    world.account.client("ec2").authorize_security_group_ingress(GroupId=world.managed_group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])


def instance_terminated(world: World) -> None:
    world.account.client("ec2").terminate_instances(InstanceIds=[world.instance_id])


STORY = (
    Act("Resources appear: two security groups (one managed by Terraform), an instance, a bucket and a volume",
        resources_appear),
    Act("Someone opens SSH on the security group to 0.0.0.0/0", ssh_opened_to_world),
    Act("Someone removes the owner tag from the instance", owner_tag_removed),
    Act("Someone opens PostgreSQL on the Terraform-managed security group, by hand", terraform_group_changed_by_hand),
    Act("The instance is terminated, moments after it was launched", instance_terminated),
)

DEMO_TYPES = ("ec2.instance", "s3.bucket", "ec2.security-group", "ec2.volume")
