"""Which observed resources a CloudTrail call touched: one table row per event family.

`FAMILIES` is the table: an ``eventSource``, the event names of the family, the
types it can touch and where their ids or ARNs sit in the record. Each touched
resource carries the uid its collector gives it (`arns`), so a trail event and the
resource's observations meet in one shard (`shard_for`). Read-only and failed calls
touch nothing: they changed nothing to attribute (`why_nothing_changed`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from elava.events import TouchedResource
from elava.sharding import shard_of
from streams.attribution import arns
from streams.attribution.arns import Place
from streams.attribution.calls import Call, Family, event_base_name, why_nothing_changed

__all__ = ["FAMILIES", "Family", "family_of", "shard_for", "targeted_resources", "touched_resources",
           "why_nothing_changed"]

EC2, S3, LAMBDA, RDS = "ec2.amazonaws.com", "s3.amazonaws.com", "lambda.amazonaws.com", "rds.amazonaws.com"
ELASTICACHE, DYNAMODB, EKS = "elasticache.amazonaws.com", "dynamodb.amazonaws.com", "eks.amazonaws.com"
ECS, AUTOSCALING, ELB = "ecs.amazonaws.com", "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com"
IAM, KMS, ECR, ROUTE53 = "iam.amazonaws.com", "kms.amazonaws.com", "ecr.amazonaws.com", "route53.amazonaws.com"

# EC2 ids say their type: "i-0abc" is an instance (CreateTags names any of them).
EC2_ID_PREFIXES = {"i": "ec2.instance", "sg": "ec2.security-group", "vol": "ec2.volume", "snap": "ec2.snapshot",
                   "ami": "ec2.image", "vpc": "ec2.vpc", "subnet": "ec2.subnet", "nat": "ec2.nat-gateway",
                   "eipalloc": "ec2.elastic-ip"}


# --- extractors: one per family that needs more than ids at fixed places ------------------

def _ids(type_name: str, *paths: str):
    """The extractor of a family whose ids (or ARNs) of one type sit at ``paths``."""
    def extract(call: Call) -> list[TouchedResource]:
        return call.named(type_name, *paths)
    return extract


def _arns(*paths: str):
    def extract(call: Call) -> list[TouchedResource]:
        return call.by_arn(*paths)
    return extract


def _tagged_ec2(call: Call) -> Iterator[TouchedResource]:
    for rid in call.ids("request.resourcesSet/resourceId"):
        type_name = EC2_ID_PREFIXES.get(rid.split("-", 1)[0])
        if type_name:
            yield call.make(type_name, rid)


def _volumes(call: Call) -> list[TouchedResource]:
    # Attaching changes the instance too (its volumes), detaching likewise.
    return (call.named("ec2.volume", "response.volumeId", "request.volumeId")
            + call.named("ec2.instance", "request.instanceId", "response.instanceId"))


def _elastic_ips(call: Call) -> list[TouchedResource]:
    # The collector's id is the allocation id, or the public IP for an EC2-Classic address.
    allocations = call.ids("response.allocationId", "request.allocationId")
    ips = [] if allocations else call.ids("request.publicIp", "response.publicIp")
    return ([call.make("ec2.elastic-ip", rid) for rid in allocations + ips]
            + call.named("ec2.instance", "request.instanceId"))


def _lambda_functions(call: Call) -> Iterator[TouchedResource]:
    for reference in call.ids("response.functionArn", "request.functionName", "request.resource"):
        if reference.startswith("arn:"):
            touched = arns.from_arn(reference)
            if touched is not None and touched.type == "lambda.function":
                yield touched
        elif name := arns.lambda_function_name(reference):
            # "123456789012:function:my-fn" is a partial ARN: its account is the function's
            account = reference.split(":", 1)[0] if ":function:" in reference else None
            yield arns.make("lambda.function", name, call.place, account=account)


def _rds_instances(call: Call) -> list[TouchedResource]:
    touched = call.named("rds.instance", "response.dBInstanceArn", "request.dBInstanceIdentifier",
                         "request.newDBInstanceIdentifier", "request.targetDBInstanceIdentifier")
    if call.name.startswith(("Create", "Delete")):  # an Aurora member joins or leaves its cluster
        touched += call.named("rds.cluster", "request.dBClusterIdentifier", "response.dBClusterIdentifier")
    return touched


def _ecs_clusters(call: Call) -> list[TouchedResource]:
    touched = call.named("ecs.cluster", "response.cluster.clusterArn", "request.cluster", "request.clusterName")
    if not touched and call.name == "CreateCluster":
        touched = [call.make("ecs.cluster", "default")]  # no name given: ECS calls it "default"
    return touched


def _ecs_services(call: Call) -> list[TouchedResource]:
    touched = [t for t in call.by_arn("response.service.serviceArn", "request.service") if t.type == "ecs.service"]
    if touched:
        return touched
    name = call.get("request.serviceName") or call.get("request.service")
    if not isinstance(name, str):
        return []
    cluster = str(call.get("request.cluster") or "default").rsplit("/", 1)[-1]
    place = call.place  # the long ARN format, which AWS has given every new service since 2021
    uid = f"arn:{place.partition}:ecs:{place.region}:{place.account}:service/{cluster}/{name}"
    return [TouchedResource(uid=uid, type="ecs.service", id=uid)]


def _autoscaling_groups(call: Call) -> list[TouchedResource]:
    known = [t for t in call.by_arn("resources/ARN", "request.autoScalingGroupARN")
             if t.type == "autoscaling.group"]
    names = set(call.ids("request.autoScalingGroupName"))
    names |= {tag.get("resourceId") for tag in call.get("request.tags") or []
              if isinstance(tag, Mapping) and tag.get("resourceType") == "auto-scaling-group"}
    named_by_arn = {t.uid.rsplit("autoScalingGroupName/", 1)[-1] for t in known}
    guessed = [arns.autoscaling_group(name, call.place) for name in sorted(n for n in names if n)
               if name not in named_by_arn]
    return known + guessed


def _iam_roles(call: Call) -> list[TouchedResource]:
    known = call.by_arn("response.role.arn", "resources/ARN")
    known = [t for t in known if t.type == "iam.role"]
    if known:
        return known
    path = call.get("request.path")
    return [arns.iam_role(name, call.place, path if isinstance(path, str) else None)
            for name in call.ids("request.roleName")]


def _kms_keys(call: Call) -> list[TouchedResource]:
    # KMS fills the record's "resources" with the key ARN; a keyId may also be an alias.
    return [t for t in call.named("kms.key", "response.keyMetadata.arn", "resources/ARN", "request.keyId",
                                  "request.targetKeyId") if not t.id.startswith("alias/")]


def _ecr_repositories(call: Call) -> list[TouchedResource]:
    known = call.by_arn("response.repository.repositoryArn", "request.resourceArn")
    registry = call.get("request.registryId")
    account = registry if isinstance(registry, str) and registry else None
    named = [arns.make("ecr.repository", name, call.place, account=account)
             for name in call.ids("request.repositoryName")]
    return [t for t in known if t.type == "ecr.repository"] + named


def _hosted_zones(call: Call) -> list[TouchedResource]:
    references = call.ids("response.hostedZone.id", "request.hostedZoneId", "request.id")
    if str(call.get("request.resourceType") or "").lower() == "hostedzone":  # ChangeTagsForResource
        references += call.ids("request.resourceId")
    return [call.make("route53.hosted-zone", arns.hosted_zone_id(ref)) for ref in references]


# --- the table --------------------------------------------------------------------------

def _family(title: str, source: str, events: str, types: str, extract, where: str) -> Family:
    return Family(title, source, tuple(events.split()), tuple(types.split()), extract, where)


FAMILIES: tuple[Family, ...] = (
    _family("EC2 instances launched", EC2, "RunInstances", "ec2.instance",
            _ids("ec2.instance", "response.instancesSet/instanceId"), "responseElements.instancesSet.items[].instanceId"),
    _family("EC2 instance state and settings", EC2,
            "TerminateInstances StopInstances StartInstances RebootInstances ModifyInstanceAttribute "
            "ModifyInstanceMetadataOptions MonitorInstances UnmonitorInstances AssociateIamInstanceProfile",
            "ec2.instance", _ids("ec2.instance", "request.instancesSet/instanceId", "request.instanceId"),
            "requestParameters.instancesSet.items[].instanceId, instanceId"),
    _family("EBS volumes", EC2, "CreateVolume DeleteVolume ModifyVolume AttachVolume DetachVolume",
            "ec2.volume ec2.instance", _volumes, "volumeId (request or response); instanceId for attach/detach"),
    _family("EBS snapshots", EC2,
            "CreateSnapshot CreateSnapshots CopySnapshot DeleteSnapshot ModifySnapshotAttribute ResetSnapshotAttribute",
            "ec2.snapshot", _ids("ec2.snapshot", "response.snapshotId", "response.snapshotSet/snapshotId",
                                 "request.snapshotId"), "snapshotId (response, then request)"),
    _family("AMIs", EC2, "CreateImage RegisterImage CopyImage DeregisterImage ModifyImageAttribute "
            "ResetImageAttribute EnableImageDeprecation DisableImageDeprecation", "ec2.image",
            _ids("ec2.image", "response.imageId", "request.imageId"), "imageId (response, then request)"),
    _family("Security groups", EC2,
            "CreateSecurityGroup DeleteSecurityGroup AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress "
            "RevokeSecurityGroupIngress RevokeSecurityGroupEgress ModifySecurityGroupRules "
            "UpdateSecurityGroupRuleDescriptionsIngress UpdateSecurityGroupRuleDescriptionsEgress",
            "ec2.security-group", _ids("ec2.security-group", "response.groupId", "request.groupId",
                                       "response.securityGroupRuleSet/groupId"),
            "groupId (also inside ModifySecurityGroupRulesRequest)"),
    _family("EC2 tags", EC2, "CreateTags DeleteTags", " ".join(sorted(set(EC2_ID_PREFIXES.values()))), _tagged_ec2,
            "requestParameters.resourcesSet.items[].resourceId, typed by prefix"),
    _family("VPCs", EC2, "CreateVpc DeleteVpc ModifyVpcAttribute ModifyVpcTenancy AssociateVpcCidrBlock", "ec2.vpc",
            _ids("ec2.vpc", "response.vpc.vpcId", "request.vpcId"), "responseElements.vpc.vpcId, vpcId"),
    _family("Subnets", EC2, "CreateSubnet DeleteSubnet ModifySubnetAttribute", "ec2.subnet",
            _ids("ec2.subnet", "response.subnet.subnetId", "request.subnetId"),
            "responseElements.subnet.subnetId, subnetId"),
    _family("NAT gateways", EC2, "CreateNatGateway DeleteNatGateway", "ec2.nat-gateway",
            _ids("ec2.nat-gateway", "response.natGateway.natGatewayId", "request.natGatewayId"),
            "natGatewayId (inside the *Request/*Response wrappers)"),
    _family("Elastic IPs", EC2, "AllocateAddress ReleaseAddress AssociateAddress DisassociateAddress",
            "ec2.elastic-ip ec2.instance", _elastic_ips, "allocationId (else publicIp); instanceId when associating"),
    _family("S3 buckets", S3, "CreateBucket PutBucket* DeleteBucket*", "s3.bucket",
            _ids("s3.bucket", "request.bucketName"), "requestParameters.bucketName"),
    _family("Lambda functions", LAMBDA,
            "CreateFunction UpdateFunctionConfiguration UpdateFunctionCode DeleteFunction PublishVersion "
            "PutFunctionConcurrency DeleteFunctionConcurrency AddPermission RemovePermission "
            "CreateFunctionUrlConfig UpdateFunctionUrlConfig DeleteFunctionUrlConfig TagResource UntagResource",
            "lambda.function", _lambda_functions,
            "functionName (name, partial ARN or ARN, qualifier dropped), resource, functionArn"),
    _family("RDS DB instances", RDS,
            "CreateDBInstance CreateDBInstanceReadReplica ModifyDBInstance DeleteDBInstance RebootDBInstance "
            "StartDBInstance StopDBInstance RestoreDBInstanceFromDBSnapshot RestoreDBInstanceToPointInTime "
            "PromoteReadReplica", "rds.instance rds.cluster", _rds_instances,
            "dBInstanceArn, dBInstanceIdentifier (lower-cased); dBClusterIdentifier on create/delete"),
    _family("RDS DB clusters", RDS,
            "CreateDBCluster ModifyDBCluster DeleteDBCluster StartDBCluster StopDBCluster FailoverDBCluster "
            "RebootDBCluster RestoreDBClusterFromSnapshot RestoreDBClusterToPointInTime", "rds.cluster",
            _ids("rds.cluster", "response.dBClusterArn", "request.dBClusterIdentifier",
                 "request.newDBClusterIdentifier"), "dBClusterArn, dBClusterIdentifier (lower-cased)"),
    _family("RDS tags", RDS, "AddTagsToResource RemoveTagsFromResource", "rds.instance rds.cluster",
            _arns("request.resourceName"), "requestParameters.resourceName (an ARN)"),
    _family("DynamoDB tables", DYNAMODB,
            "CreateTable UpdateTable DeleteTable UpdateContinuousBackups TagResource UntagResource", "dynamodb.table",
            _ids("dynamodb.table", "response.tableDescription.tableArn", "request.tableName", "request.resourceArn"),
            "tableDescription.tableArn, tableName, resourceArn"),
    _family("EKS clusters", EKS,
            "CreateCluster DeleteCluster UpdateClusterConfig UpdateClusterVersion AssociateEncryptionConfig "
            "CreateNodegroup DeleteNodegroup UpdateNodegroupConfig UpdateNodegroupVersion TagResource UntagResource",
            "eks.cluster", _ids("eks.cluster", "response.cluster.arn", "request.name", "request.clusterName",
                                "response.nodegroup.clusterName", "request.resourceArn"),
            "cluster.arn, name / clusterName, resourceArn"),
    _family("ECS clusters", ECS,
            "CreateCluster DeleteCluster UpdateCluster UpdateClusterSettings PutClusterCapacityProviders",
            "ecs.cluster", _ecs_clusters, "cluster.clusterArn, cluster / clusterName (\"default\" when unnamed)"),
    _family("ECS services", ECS, "CreateService UpdateService DeleteService", "ecs.service", _ecs_services,
            "service.serviceArn; else cluster + serviceName (long ARN format)"),
    _family("ECS tags", ECS, "TagResource UntagResource", "ecs.cluster ecs.service", _arns("request.resourceArn"),
            "requestParameters.resourceArn"),
    _family("Auto Scaling groups", AUTOSCALING,
            "CreateAutoScalingGroup UpdateAutoScalingGroup DeleteAutoScalingGroup SetDesiredCapacity "
            "SuspendProcesses ResumeProcesses AttachLoadBalancerTargetGroups DetachLoadBalancerTargetGroups "
            "AttachLoadBalancers DetachLoadBalancers AttachTrafficSources DetachTrafficSources "
            "CreateOrUpdateTags DeleteTags", "autoscaling.group", _autoscaling_groups,
            "the record's resources ARN; else autoScalingGroupName / tags[].resourceId (UUID unknown)"),
    _family("ELBv2 load balancers", ELB,
            "CreateLoadBalancer DeleteLoadBalancer ModifyLoadBalancerAttributes SetSecurityGroups SetSubnets "
            "SetIpAddressType AddTags RemoveTags", "elbv2.load-balancer",
            _arns("response.loadBalancers/loadBalancerArn", "request.loadBalancerArn", "request.resourceArns"),
            "loadBalancers[].loadBalancerArn, loadBalancerArn, resourceArns (load balancers only)"),
    _family("ELBv2 listeners", ELB, "CreateListener ModifyListener DeleteListener", "elbv2.load-balancer",
            _arns("request.loadBalancerArn", "request.listenerArn", "response.listeners/listenerArn"),
            "loadBalancerArn, or the load balancer in listenerArn"),
    _family("IAM roles", IAM,
            "CreateRole CreateServiceLinkedRole DeleteRole DeleteServiceLinkedRole UpdateRole UpdateRoleDescription "
            "UpdateAssumeRolePolicy AttachRolePolicy DetachRolePolicy PutRolePolicy DeleteRolePolicy TagRole "
            "UntagRole PutRolePermissionsBoundary DeleteRolePermissionsBoundary AddRoleToInstanceProfile "
            "RemoveRoleFromInstanceProfile", "iam.role", _iam_roles,
            "role.arn; else roleName (+ path) — a role with a path needs the ARN"),
    _family("KMS keys", KMS,
            "CreateKey ScheduleKeyDeletion CancelKeyDeletion DisableKey EnableKey EnableKeyRotation "
            "DisableKeyRotation PutKeyPolicy UpdateKeyDescription TagResource UntagResource CreateAlias UpdateAlias "
            "DeleteAlias", "kms.key", _kms_keys, "keyMetadata.arn, the record's resources, keyId / targetKeyId"),
    _family("ECR repositories", ECR,
            "CreateRepository DeleteRepository PutImageTagMutability PutImageScanningConfiguration "
            "PutLifecyclePolicy DeleteLifecyclePolicy SetRepositoryPolicy DeleteRepositoryPolicy TagResource "
            "UntagResource", "ecr.repository", _ecr_repositories,
            "repository.repositoryArn, resourceArn, repositoryName (+ registryId)"),
    _family("Route 53 hosted zones", ROUTE53,
            "CreateHostedZone DeleteHostedZone ChangeResourceRecordSets UpdateHostedZoneComment "
            "AssociateVPCWithHostedZone DisassociateVPCFromHostedZone ChangeTagsForResource", "route53.hosted-zone",
            _hosted_zones, "hostedZone.id, hostedZoneId / id, resourceId (/hostedzone/ prefix dropped)"),
    _family("ElastiCache clusters", ELASTICACHE,
            "CreateCacheCluster ModifyCacheCluster DeleteCacheCluster RebootCacheCluster", "elasticache.cluster",
            _ids("elasticache.cluster", "response.aRN", "request.cacheClusterId"),
            "ARN in the response, cacheClusterId (lower-cased)"),
    _family("ElastiCache tags", ELASTICACHE, "AddTagsToResource RemoveTagsFromResource", "elasticache.cluster",
            _arns("request.resourceName"), "requestParameters.resourceName (an ARN)"),
)


# --- reading a record -------------------------------------------------------------------

def family_of(source: str, event_name: str) -> Family | None:
    name = event_base_name(event_name)
    return next((family for family in FAMILIES if family.covers(source, name)), None)


def _call(record: Mapping[str, Any], place: Place) -> Call:
    data = {"request": record.get("requestParameters") or {}, "response": record.get("responseElements") or {},
            "resources": record.get("resources") or []}
    return Call(str(record.get("eventSource") or ""), event_base_name(str(record.get("eventName") or "")),
                place, data)


def targeted_resources(record: Mapping[str, Any], place: Place) -> list[TouchedResource]:
    """What the call names as its targets, whether or not it changed anything."""
    family = family_of(str(record.get("eventSource") or ""), str(record.get("eventName") or ""))
    if family is None:
        return []
    unique = {touched.uid: touched for touched in family.extract(_call(record, place))}
    return list(unique.values())


def touched_resources(record: Mapping[str, Any], place: Place) -> list[TouchedResource]:
    """The observed resources a call may have changed (none for read-only or failed calls)."""
    return [] if why_nothing_changed(record) else targeted_resources(record, place)


def shard_for(touched: TouchedResource, account: str, region: str, buckets: int) -> str:
    """The shard key of the touched resource's observations. ``account`` and ``region``
    are the call's; the resource's own ARN wins where it names them; global types
    (S3, IAM, Route 53) are in the ``global`` scope."""
    owner, scope = arns.home(touched, account, region)
    return shard_of(touched.uid, owner, scope, touched.type, buckets)
