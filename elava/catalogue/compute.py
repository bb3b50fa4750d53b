"""Compute family: EC2 instances, Lambda functions, EKS clusters (ECS and Auto Scaling:
`containers`)."""

from __future__ import annotations

import re
from typing import Any

from elava.catalogue.arns import ArnMatch
from elava.catalogue.registry import register
from elava.catalogue.relations import uses
from elava.catalogue.trail import Custom, TrailCall, family, ids
from elava.catalogue.types import DetailCall, Lifecycle, Lookup, ResourceType
from elava.catalogue.usage import Metric, Usage
from elava.events import TouchedResource

EC2, LAMBDA, EKS = "ec2.amazonaws.com", "lambda.amazonaws.com", "eks.amazonaws.com"

# AWS keeps listing terminated instances for about an hour; they are gone for us.
# ``shutting-down`` still exists (and still costs), so it is observed.
GONE_INSTANCE_STATES = frozenset({"terminated"})


def instance_is_gone(item: dict[str, Any]) -> bool:
    return (item.get("State") or {}).get("Name") in GONE_INSTANCE_STATES


EC2_INSTANCE = register(
    ResourceType(
        name="ec2.instance",
        lifecycle=Lifecycle("state", running=("running",), stopped=("stopped",),
                            settling=("pending", "stopping", "shutting-down")),
        churn={"launch_time": "AWS stamps it at every start",
               "public_ip": "AWS assigns a new public address at every start (unless it is an Elastic IP)"},
        service="ec2",
        list_operation="describe_instances",
        list_params={"MaxResults": 1000},  # unpaged, a large account's answer can time out
        result_path="Reservations[].Instances[]",
        id_field="InstanceId",
        lookup=Lookup("InstanceIds", gone_errors=frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})),
        arn_template="arn:{partition}:ec2:{region}:{account}:instance/{id}",
        id_prefix="i",
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
        edges=(
            uses("subnet", "ec2.subnet", "subnet_id"),
            uses("vpc", "ec2.vpc", "vpc_id"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("volumes", "ec2.volume", "volumes"),
            uses("image", "ec2.image", "image_id"),
            uses("instance-profile", None, "iam_instance_profile"),  # not collected
        ),
        usage=Usage(
            # Oversized: CPU of a running instance, p95 of hourly maxima (detailed monitoring or not).
            metrics=(Metric("cpu", "AWS/EC2", "CPUUtilization", "Maximum", {"InstanceId": "id"}, "percent",
                            summary="hourly-p95", when={"attributes.state": "running"}),),
            units={"instance_type": "attributes.instance_type", "platform": "attributes.platform",
                   "lifecycle": "attributes.lifecycle", "tenancy": "attributes.tenancy"},
            uses={"ec2.image": "attributes.image_id"},
            created="attributes.launch_time",  # the last start: a full window of it is a full window running
        ),
        trail=(
            family("EC2 instances launched", EC2, "RunInstances", ids("response.instancesSet/instanceId"),
                   where="responseElements.instancesSet.items[].instanceId"),
            family("EC2 instance state and settings", EC2,
                   "TerminateInstances StopInstances StartInstances RebootInstances ModifyInstanceAttribute "
                   "ModifyInstanceMetadataOptions MonitorInstances UnmonitorInstances AssociateIamInstanceProfile",
                   ids("request.instancesSet/instanceId", "request.instanceId"),
                   where="requestParameters.instancesSet.items[].instanceId, instanceId"),
        ),
    )
)


# --- Lambda -----------------------------------------------------------------------------

# "my-fn", "my-fn:PROD" or the partial ARN "123456789012:function:my-fn" (whose account is the function's).
_FUNCTION_REFERENCE = re.compile(r"^(?:(?P<account>\d{12}):function:)?(?P<name>[^:]+)(?::[^:]+)?$")
_FUNCTION_PATHS = ("response.functionArn", "request.functionName", "request.resource")


def functions_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    """Functions named by ARN, partial ARN or name, a version or alias qualifier dropped."""
    found = []
    for reference in call.ids(*_FUNCTION_PATHS):
        if reference.startswith("arn:"):
            touched = call.from_arn(reference)
            if touched is not None and touched.type == type_name:
                found.append(touched)
        elif match := _FUNCTION_REFERENCE.match(reference):
            found.append(call.make(type_name, match["name"], account=match["account"]))
    return found


LAMBDA_FUNCTION = register(
    ResourceType(
        name="lambda.function",
        churn={"last_modified": "AWS stamps every update; what the update changed shows in its own fields"},
        service="lambda",
        list_operation="list_functions",  # $LATEST of each function, not every version
        result_path="Functions",
        id_field="FunctionName",
        name_field="FunctionName",
        arn_field="FunctionArn",
        arn_template="arn:{partition}:lambda:{region}:{account}:function:{id}",
        arn_match=ArnMatch("lambda", r"^function:(?P<id>[^:]+)(:[^:]+)?$"),  # a qualifier is dropped
        tags_from="detail:Tags",
        bulk_tags="lambda:function",
        details=(
            DetailCall("list_tags", {"Resource": "FunctionArn"}, "Tags", result_path="Tags"),
            # A function URL with AuthType NONE is callable by anyone: public exposure.
            DetailCall("get_function_url_config", {"FunctionName": "FunctionName"}, "Url",
                       none_errors=frozenset({"ResourceNotFoundException"})),
        ),
        attributes={
            "runtime": "Runtime",
            "handler": "Handler",
            "package_type": "PackageType",
            "architectures": "Architectures",
            "memory_mb": "MemorySize",
            "timeout_seconds": "Timeout",
            "ephemeral_storage_mb": "EphemeralStorage.Size",
            "code_size": "CodeSize",
            "code_sha256": "CodeSha256",
            "last_modified": "LastModified",
            "role": "Role",
            "kms_key_arn": "KMSKeyArn",
            "vpc_id": "VpcConfig.VpcId || `null`",
            "subnet_ids": "sort(VpcConfig.SubnetIds || `[]`)",
            "security_groups": "sort(VpcConfig.SecurityGroupIds || `[]`)",
            "layers": "Layers[].Arn || `[]`",
            "tracing": "TracingConfig.Mode",
            "dead_letter_target": "DeadLetterConfig.TargetArn",
            "environment": "Environment.Variables",
            "url": "Url.FunctionUrl",
            "url_auth_type": "Url.AuthType",
        },
        # Every environment value, whatever its name: people paste secrets there.
        secret_fields=("environment.*",),
        edges=(
            uses("role", "iam.role", "role"),
            uses("subnets", "ec2.subnet", "subnet_ids"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("vpc", "ec2.vpc", "vpc_id"),
            uses("kms-key", "kms.key", "kms_key_arn"),
            uses("dead-letter-queue", "sqs.queue", "dead_letter_target"),
            uses("layers", None, "layers"),
        ),
        usage=Usage(
            # Lambda publishes Invocations only for periods with invocations.
            metrics=(Metric("invocations", "AWS/Lambda", "Invocations", "Sum", {"FunctionName": "id"},
                            "invocations", absent_is_zero=True),),
            units={"memory_mb": "attributes.memory_mb", "architectures": "attributes.architectures",
                   "ephemeral_storage_mb": "attributes.ephemeral_storage_mb"},
            # No creation time is listed: the last change is the latest it can have been created.
            created="attributes.last_modified",
        ),
        trail=(
            family("Lambda functions", LAMBDA,
                   "CreateFunction UpdateFunctionConfiguration UpdateFunctionCode DeleteFunction PublishVersion "
                   "PutFunctionConcurrency DeleteFunctionConcurrency AddPermission RemovePermission "
                   "CreateFunctionUrlConfig UpdateFunctionUrlConfig DeleteFunctionUrlConfig TagResource UntagResource",
                   Custom(functions_named, _FUNCTION_PATHS),
                   where="functionName (name, partial ARN or ARN, qualifier dropped), resource, functionArn"),
        ),
    )
)


# --- EKS --------------------------------------------------------------------------------

def _nodegroup(group: dict[str, Any]) -> dict[str, Any]:
    scaling = group.get("scalingConfig") or {}
    template = group.get("launchTemplate") or {}
    return {
        "name": group.get("nodegroupName"),
        "status": group.get("status"),
        "version": group.get("version"),
        "release_version": group.get("releaseVersion"),
        "capacity_type": group.get("capacityType"),
        "instance_types": sorted(group.get("instanceTypes") or []),
        "ami_type": group.get("amiType"),
        "disk_size": group.get("diskSize"),
        "scaling": {"min": scaling.get("minSize"), "max": scaling.get("maxSize"),
                    "desired": scaling.get("desiredSize")},
        "launch_template": (template.get("id") or template.get("name")) if template else None,
        "node_role": group.get("nodeRole"),
        "subnets": sorted(group.get("subnets") or []),
        "created_at": group.get("createdAt"),
    }


def normalise_eks_cluster(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    groups = sorted((_nodegroup(group) for group in raw.get("Nodegroups") or []), key=lambda g: g["name"] or "")
    return {**attributes, "nodegroups": groups}


EKS_CLUSTER = register(
    ResourceType(
        name="eks.cluster",
        lifecycle=Lifecycle("status", settling=("CREATING", "UPDATING")),
        churn={"platform_version": "AWS moves clusters to new platform versions of their Kubernetes version"},
        service="eks",
        list_operation="list_clusters",
        result_path="clusters",
        item_key="name",
        id_field="name",
        name_field="name",
        arn_field="Cluster.arn",
        arn_template="arn:{partition}:eks:{region}:{account}:cluster/{id}",
        describe=DetailCall("describe_cluster", {"name": "name"}, "Cluster", result_path="cluster",
                            none_errors=frozenset({"ResourceNotFoundException"})),
        tags_from="detail:Cluster.tags",
        details=(
            DetailCall("list_nodegroups", {"clusterName": "name"}, "Nodegroups", result_path="nodegroups",
                       paged=True, each=DetailCall(
                           "describe_nodegroup", {"clusterName": "name", "nodegroupName": "Each"}, "Each",
                           result_path="nodegroup", none_errors=frozenset({"ResourceNotFoundException"}))),
        ),
        attributes={
            "status": "Cluster.status",
            "version": "Cluster.version",
            "platform_version": "Cluster.platformVersion",
            "created_at": "Cluster.createdAt",
            "role_arn": "Cluster.roleArn",
            "vpc_id": "Cluster.resourcesVpcConfig.vpcId",
            "subnet_ids": "sort(Cluster.resourcesVpcConfig.subnetIds || `[]`)",
            "security_groups": "sort(Cluster.resourcesVpcConfig.securityGroupIds || `[]`)",
            "endpoint_public_access": "Cluster.resourcesVpcConfig.endpointPublicAccess",
            "endpoint_private_access": "Cluster.resourcesVpcConfig.endpointPrivateAccess",
            "public_access_cidrs": "sort(Cluster.resourcesVpcConfig.publicAccessCidrs || `[]`)",
            "secrets_encryption_key": "Cluster.encryptionConfig[0].provider.keyArn",
            "logging": "sort(Cluster.logging.clusterLogging[?enabled].types[] || `[]`)",
            "authentication_mode": "Cluster.accessConfig.authenticationMode",
        },
        transform=normalise_eks_cluster,
        edges=(
            uses("role", "iam.role", "role_arn"),
            uses("subnets", "ec2.subnet", "subnet_ids"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("vpc", "ec2.vpc", "vpc_id"),
            uses("kms-key", "kms.key", "secrets_encryption_key"),
            uses("node-roles", "iam.role", "nodegroups[].node_role"),
            uses("node-subnets", "ec2.subnet", "nodegroups[].subnets[]"),
        ),
        trail=(
            family("EKS clusters", EKS,
                   "CreateCluster DeleteCluster UpdateClusterConfig UpdateClusterVersion AssociateEncryptionConfig "
                   "CreateNodegroup DeleteNodegroup UpdateNodegroupConfig UpdateNodegroupVersion TagResource "
                   "UntagResource",
                   ids("response.cluster.arn", "request.name", "request.clusterName", "response.nodegroup.clusterName",
                       "request.resourceArn"),
                   where="cluster.arn, name / clusterName, resourceArn"),
        ),
    )
)
