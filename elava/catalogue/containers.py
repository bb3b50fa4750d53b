"""Containers and scaling family: ECS clusters and services, auto scaling groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elava.catalogue.arns import ArnMatch
from elava.catalogue.registry import register, register_family
from elava.catalogue.relations import uses
from elava.catalogue.trail import UNKNOWN_PART, Custom, TrailCall, arns, family
from elava.catalogue.types import Batch, DetailCall, Lifecycle, ParentListing, ResourceType
from elava.events import TouchedResource

ECS, AUTOSCALING = "ecs.amazonaws.com", "autoscaling.amazonaws.com"


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
        lifecycle=Lifecycle("status", settling=("PROVISIONING", "DEPROVISIONING")),
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
        churn={"desired_count": "service auto scaling moves it"},
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
        edges=(
            uses("cluster", "ecs.cluster", "cluster_arn"),
            uses("role", "iam.role", "role_arn"),
            uses("subnets", "ec2.subnet", "subnets"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("target-groups", None, "load_balancers"),  # not collected
        ),
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
        churn={"desired_capacity": "scaling policies, scheduled actions and instance refreshes move it"},
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
        edges=(
            uses("subnets", "ec2.subnet", "subnets"),
            uses("load-balancers", "elb.load-balancer", "load_balancers"),  # classic, by name
            uses("target-groups", None, "target_groups"),  # not collected
            uses("role", "iam.role", "service_linked_role"),
        ),
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
