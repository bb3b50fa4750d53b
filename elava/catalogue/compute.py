"""Compute family: EC2 instances, Lambda functions, EKS and ECS clusters, ECS services,
auto scaling groups."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from elava.catalogue.arns import ArnMatch
from elava.catalogue.registry import register, register_family
from elava.catalogue.trail import UNKNOWN_PART, Custom, TrailCall, arns, family, ids
from elava.catalogue.types import Batch, DetailCall, Lookup, ParentListing, ResourceType
from elava.catalogue.usage import Metric, Usage
from elava.events import TouchedResource

EC2, LAMBDA, EKS = "ec2.amazonaws.com", "lambda.amazonaws.com", "eks.amazonaws.com"
ECS, AUTOSCALING = "ecs.amazonaws.com", "autoscaling.amazonaws.com"

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
        service="lambda",
        list_operation="list_functions",  # $LATEST of each function, not every version
        result_path="Functions",
        id_field="FunctionName",
        name_field="FunctionName",
        arn_field="FunctionArn",
        arn_template="arn:{partition}:lambda:{region}:{account}:function:{id}",
        arn_match=ArnMatch("lambda", r"^function:(?P<id>[^:]+)(:[^:]+)?$"),  # a qualifier is dropped
        tags_from="detail:Tags",
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


# --- ECS --------------------------------------------------------------------------------

def ecs_inactive(item: dict[str, Any]) -> bool:
    """Deleted clusters and services are still described, as INACTIVE, for a while."""
    described = item.get("Cluster") or item.get("Service") or {}
    return described.get("status") == "INACTIVE"


_CLUSTER_PATHS = ("response.cluster.clusterArn", "request.cluster", "request.clusterName")


def clusters_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    touched = call.named(type_name, *_CLUSTER_PATHS)
    if not touched and call.name == "CreateCluster":
        touched = [call.make(type_name, "default")]  # no name given: ECS calls it "default"
    return touched


_SERVICE_PATHS = ("response.service.serviceArn", "request.service")


def services_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    """By ARN; else by cluster and name, in the long ARN format AWS has given every new service since 2021."""
    touched = [t for t in call.by_arn(*_SERVICE_PATHS) if t.type == type_name]
    if touched:
        return touched
    name = call.get("request.serviceName") or call.get("request.service")
    if not isinstance(name, str):
        return []
    cluster = str(call.get("request.cluster") or "default").rsplit("/", 1)[-1]
    place = call.place
    uid = f"arn:{place.partition}:ecs:{place.region}:{place.account}:service/{cluster}/{name}"
    return [TouchedResource(uid=uid, type=type_name, id=uid)]


ECS_CLUSTER = register(
    ResourceType(
        name="ecs.cluster",
        service="ecs",
        list_operation="list_clusters",
        list_params={"maxResults": 100},
        result_path="clusterArns",
        item_key="clusterArn",
        id_field="Cluster.clusterName",
        name_field="Cluster.clusterName",
        arn_field="clusterArn",
        arn_template="arn:{partition}:ecs:{region}:{account}:cluster/{id}",  # a record may name it only
        describe=DetailCall("describe_clusters", {"clusters": "clusterArn"}, "Cluster", result_path="clusters",
                            static_params={"include": ["TAGS", "SETTINGS", "CONFIGURATIONS"]},
                            batch=Batch("clusters", 100, match="clusterArn")),
        absent_when=ecs_inactive,
        tags_from="detail:Cluster.tags",
        attributes={
            "status": "Cluster.status",
            "capacity_providers": "sort(Cluster.capacityProviders || `[]`)",
            "default_capacity_provider_strategy": "Cluster.defaultCapacityProviderStrategy || `[]`",
            "container_insights": "Cluster.settings[?name=='containerInsights'].value | [0]",
            "execute_command_logging": "Cluster.configuration.executeCommandConfiguration.logging",
            "execute_command_kms_key": "Cluster.configuration.executeCommandConfiguration.kmsKeyId",
            "service_connect_namespace": "Cluster.serviceConnectDefaults.namespace",
        },
        trail=(
            family("ECS clusters", ECS,
                   "CreateCluster DeleteCluster UpdateCluster UpdateClusterSettings PutClusterCapacityProviders",
                   Custom(clusters_named, _CLUSTER_PATHS),
                   where="cluster.clusterArn, cluster / clusterName (\"default\" when unnamed)"),
        ),
    )
)

ECS_SERVICE = register(
    ResourceType(
        name="ecs.service",
        service="ecs",
        parent=ParentListing("list_clusters", "clusterArns", child_params={"cluster": "clusterArn"},
                             store_as="Parent", params={"maxResults": 100}, item_key="clusterArn",
                             gone_errors=frozenset({"ClusterNotFoundException"})),
        list_operation="list_services",
        list_params={"maxResults": 100},
        result_path="serviceArns",
        item_key="serviceArn",
        id_field="serviceArn",  # service names are unique per cluster only
        name_field="Service.serviceName",
        arn_field="serviceArn",
        arn_match=ArnMatch("ecs", r"^service/", keep_arn=True),
        describe=DetailCall("describe_services", {"cluster": "Parent.clusterArn", "services": "serviceArn"},
                            "Service", result_path="services", static_params={"include": ["TAGS"]},
                            batch=Batch("services", 10, match="serviceArn")),
        absent_when=ecs_inactive,
        tags_from="detail:Service.tags",
        attributes={
            "cluster_arn": "Parent.clusterArn",
            "status": "Service.status",
            "launch_type": "Service.launchType",
            "capacity_provider_strategy": "Service.capacityProviderStrategy || `[]`",
            "platform_version": "Service.platformVersion",
            "scheduling_strategy": "Service.schedulingStrategy",
            "desired_count": "Service.desiredCount",
            "task_definition": "Service.taskDefinition",
            "role_arn": "Service.roleArn",
            "subnets": "sort(Service.networkConfiguration.awsvpcConfiguration.subnets || `[]`)",
            "security_groups": "sort(Service.networkConfiguration.awsvpcConfiguration.securityGroups || `[]`)",
            "assign_public_ip": "Service.networkConfiguration.awsvpcConfiguration.assignPublicIp",
            "load_balancers": "sort(Service.loadBalancers[].targetGroupArn || `[]`)",
            "deployment_controller": "Service.deploymentController.type",
            "enable_execute_command": "Service.enableExecuteCommand",
            "propagate_tags": "Service.propagateTags",
            "created_at": "Service.createdAt",
            "created_by": "Service.createdBy",
        },
        trail=(
            family("ECS services", ECS, "CreateService UpdateService DeleteService",
                   Custom(services_named, _SERVICE_PATHS),
                   where="service.serviceArn; else cluster + serviceName (long ARN format)"),
        ),
    )
)

register_family(family("ECS tags", ECS, "TagResource UntagResource",
                       arns("request.resourceArn", types=(ECS_CLUSTER.name, ECS_SERVICE.name)),
                       where="requestParameters.resourceArn"))


# --- Auto Scaling -----------------------------------------------------------------------

def normalise_auto_scaling_group(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    template = raw.get("LaunchTemplate") or (
        ((raw.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}).get("LaunchTemplateSpecification"))
    subnets = raw.get("VPCZoneIdentifier") or ""
    return {
        **attributes,
        "launch_template": {"id": template.get("LaunchTemplateId"), "name": template.get("LaunchTemplateName"),
                            "version": template.get("Version")} if template else None,
        "subnets": sorted(subnet for subnet in subnets.split(",") if subnet),
    }


_GROUP_ARN_PATHS = ("resources/ARN", "request.autoScalingGroupARN")


def groups_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    """By the record's ARNs; else by name, the UUID of the ARN unknown (the store resolves it)."""
    known = [t for t in call.by_arn(*_GROUP_ARN_PATHS) if t.type == type_name]
    names = set(call.ids("request.autoScalingGroupName"))
    names |= {tag.get("resourceId") for tag in call.get("request.tags") or []
              if isinstance(tag, Mapping) and tag.get("resourceType") == "auto-scaling-group"}
    named_by_arn = {t.uid.rsplit("autoScalingGroupName/", 1)[-1] for t in known}
    place = call.place
    guessed = [f"arn:{place.partition}:autoscaling:{place.region}:{place.account}:autoScalingGroup:{UNKNOWN_PART}"
               f":autoScalingGroupName/{name}" for name in sorted(n for n in names if n) if name not in named_by_arn]
    return known + [TouchedResource(uid=uid, type=type_name, id=uid) for uid in guessed]


AUTOSCALING_GROUP = register(
    ResourceType(
        name="autoscaling.group",
        service="autoscaling",
        list_operation="describe_auto_scaling_groups",
        list_params={"MaxRecords": 100},
        result_path="AutoScalingGroups",
        # A group re-created under the same name has a new ARN (it holds a UUID).
        id_field="AutoScalingGroupARN",
        name_field="AutoScalingGroupName",
        arn_field="AutoScalingGroupARN",
        arn_match=ArnMatch("autoscaling", r"^autoScalingGroup:", keep_arn=True),
        guessed_from_names=True,
        tags_from="inline:Tags",
        attributes={
            "min_size": "MinSize",
            "max_size": "MaxSize",
            "desired_capacity": "DesiredCapacity",
            "launch_configuration": "LaunchConfigurationName",
            "mixed_instances": "MixedInstancesPolicy != `null`",
            "instance_types": "sort(MixedInstancesPolicy.LaunchTemplate.Overrides[].InstanceType || `[]`)",
            "availability_zones": "sort(AvailabilityZones || `[]`)",
            "target_groups": "sort(TargetGroupARNs || `[]`)",
            "load_balancers": "sort(LoadBalancerNames || `[]`)",
            "health_check_type": "HealthCheckType",
            "health_check_grace_period": "HealthCheckGracePeriod",
            "termination_policies": "TerminationPolicies || `[]`",
            "suspended_processes": "sort(SuspendedProcesses[].ProcessName || `[]`)",
            "protected_from_scale_in": "NewInstancesProtectedFromScaleIn",
            "capacity_rebalance": "CapacityRebalance",
            "service_linked_role": "ServiceLinkedRoleARN",
            "status": "Status",
            "created_time": "CreatedTime",
        },
        transform=normalise_auto_scaling_group,
        trail=(
            family("Auto Scaling groups", AUTOSCALING,
                   "CreateAutoScalingGroup UpdateAutoScalingGroup DeleteAutoScalingGroup SetDesiredCapacity "
                   "SuspendProcesses ResumeProcesses AttachLoadBalancerTargetGroups DetachLoadBalancerTargetGroups "
                   "AttachLoadBalancers DetachLoadBalancers AttachTrafficSources DetachTrafficSources "
                   "CreateOrUpdateTags DeleteTags", Custom(groups_named, _GROUP_ARN_PATHS),
                   where="the record's resources ARN; else autoScalingGroupName / tags[].resourceId (UUID unknown)"),
        ),
    )
)
