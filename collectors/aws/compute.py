"""Compute family: EC2 instances."""

from __future__ import annotations

from typing import Any

from collectors.aws.registry import register
from collectors.aws.types import DetailCall, ResourceType

# AWS keeps listing terminated instances for about an hour; they are gone for us.
# ``shutting-down`` still exists (and still costs), so it is observed.
GONE_INSTANCE_STATES = frozenset({"terminated"})


def instance_is_gone(item: dict[str, Any]) -> bool:
    return (item.get("State") or {}).get("Name") in GONE_INSTANCE_STATES


EC2_INSTANCE = register(
    ResourceType(
        name="ec2.instance",
        service="ec2",
        list_operation="describe_instances",
        list_params={"MaxResults": 1000},  # unpaged, a large account's answer can time out
        result_path="Reservations[].Instances[]",
        id_field="InstanceId",
        arn_template="arn:{partition}:ec2:{region}:{account}:instance/{id}",
        tags_from="inline:Tags",
        absent_when=instance_is_gone,
        details=(
            # User data is where secrets get pasted; it is fetched so that a change
            # shows, and redacted (secret_fields) before it leaves the collector.
            DetailCall(
                operation="describe_instance_attribute",
                params={"InstanceId": "InstanceId"},
                static_params={"Attribute": "userData"},
                result_path="UserData.Value",
                store_as="UserData",
            ),
        ),
        attributes={
            "state": "State.Name",
            "instance_type": "InstanceType",
            "launch_time": "LaunchTime",
            "availability_zone": "Placement.AvailabilityZone",
            "tenancy": "Placement.Tenancy",
            "vpc_id": "VpcId",
            "subnet_id": "SubnetId",
            "image_id": "ImageId",
            "architecture": "Architecture",
            "platform": "PlatformDetails || Platform",
            "lifecycle": "InstanceLifecycle || 'on-demand'",
            "key_name": "KeyName",
            "public_ip": "PublicIpAddress",
            "private_ip": "PrivateIpAddress",
            "security_groups": "sort(SecurityGroups[].GroupId || `[]`)",
            "iam_instance_profile": "IamInstanceProfile.Arn",
            "monitoring": "Monitoring.State",
            "metadata_http_tokens": "MetadataOptions.HttpTokens",
            "ebs_optimized": "EbsOptimized",
            "volumes": "sort(BlockDeviceMappings[].Ebs.VolumeId || `[]`)",
            "user_data": "UserData",
        },
        secret_fields=("user_data",),
    )
)
