"""Compute family beyond EC2: Lambda, EKS, ECS clusters and services, auto scaling groups."""

from __future__ import annotations

import io
import json
import zipfile

from elava.catalogue import registry
from elava.redaction import key_id_of
from tests.unit.collectors.conftest import REDACTOR
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"
PLANTED = "PLANTED-ENV-SECRET-5be1"  # in a variable whose name says nothing about secrets
TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _role(boto, name: str = "app-role") -> str:
    return boto("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'ok'\n")
    return buffer.getvalue()


def _subnets(boto, count: int = 2) -> tuple[str, list[str]]:
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{'ab'[i % 2]}")
               ["Subnet"]["SubnetId"] for i in range(count)]
    return vpc, subnets


@covers("lambda.function")
async def test_lambda_function_with_redacted_environment_and_public_url(scan, boto):
    awslambda = boto("lambda")
    arn = awslambda.create_function(
        FunctionName="billing", Runtime="python3.12", Role=_role(boto), Handler="app.handler",
        Code={"ZipFile": _zip()}, MemorySize=256, Timeout=30, Tags={"team": "billing"},
        Environment={"Variables": {"LOG_LEVEL": "debug", "PLAIN_SETTING": PLANTED,
                                   "DB_PASSWORD": "hunter2-" + PLANTED}},
    )["FunctionArn"]
    awslambda.create_function_url_config(FunctionName="billing", AuthType="NONE")

    run = await scan([registry.get("lambda.function")])

    [function] = run.resources("lambda.function")
    assert function.uid == arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:billing"
    assert (function.type, function.id, function.name, function.tags) == (
        "lambda.function", "billing", "billing", {"team": "billing"})
    attributes = function.attributes
    assert (attributes["runtime"], attributes["handler"], attributes["memory_mb"], attributes["timeout_seconds"]) == (
        "python3.12", "app.handler", 256, 30)
    assert attributes["role"] == f"arn:aws:iam::{ACCOUNT}:role/app-role"
    assert attributes["url_auth_type"] == "NONE" and attributes["url"]  # callable by anyone
    # Every value is redacted, whatever the variable's name; the names stay visible.
    variables = attributes["environment"]
    assert set(variables) == {"LOG_LEVEL", "PLAIN_SETTING", "DB_PASSWORD"}
    assert all(key_id_of(value) == REDACTOR.key_id for value in variables.values())
    emitted = b"".join(obs.to_bytes() for obs in run.sink.observations)
    assert PLANTED.encode() not in emitted
    # list; URL per function; its tags in bulk (one call shared by the types)
    assert run.report.calls_by_type() == {"lambda.function": 1 + 1} and run.report.shared_calls == 1


@covers("eks.cluster")
async def test_eks_cluster_with_its_node_groups(scan, boto):
    eks = boto("eks")
    _, subnets = _subnets(boto)
    role = _role(boto, "eks-role")
    arn = eks.create_cluster(
        name="platform", version="1.29", roleArn=role, tags={"env": "prod"},
        resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": True, "endpointPrivateAccess": False,
                            "publicAccessCidrs": ["0.0.0.0/0"]},
    )["cluster"]["arn"]
    for name, kind in (("system", "ON_DEMAND"), ("batch", "SPOT")):
        eks.create_nodegroup(clusterName="platform", nodegroupName=name, nodeRole=role, subnets=subnets,
                             instanceTypes=["m6i.large"], capacityType=kind,
                             scalingConfig={"minSize": 1, "maxSize": 5, "desiredSize": 2})
    eks.create_cluster(name="empty", roleArn=role, resourcesVpcConfig={"subnetIds": subnets})

    run = await scan([registry.get("eks.cluster")])

    clusters = {r.id: r for r in run.resources("eks.cluster")}
    assert set(clusters) == {"platform", "empty"}
    cluster = clusters["platform"]
    assert cluster.uid == arn == f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/platform"
    assert (cluster.type, cluster.name, cluster.tags) == ("eks.cluster", "platform", {"env": "prod"})
    attributes = cluster.attributes
    assert (attributes["status"], attributes["version"], attributes["role_arn"]) == ("ACTIVE", "1.29", role)
    assert attributes["subnet_ids"] == sorted(subnets)
    assert (attributes["endpoint_public_access"], attributes["public_access_cidrs"]) == (True, ["0.0.0.0/0"])
    assert [(g["name"], g["capacity_type"], g["instance_types"], g["scaling"]) for g in attributes["nodegroups"]] == [
        ("batch", "SPOT", ["m6i.large"], {"min": 1, "max": 5, "desired": 2}),
        ("system", "ON_DEMAND", ["m6i.large"], {"min": 1, "max": 5, "desired": 2})]
    assert clusters["empty"].attributes["nodegroups"] == []
    # list; per cluster: describe + list node groups; per node group: describe
    assert run.report.calls_by_type() == {"eks.cluster": 1 + 2 * 2 + 2}


@covers("ecs.cluster")
async def test_ecs_clusters_are_described_in_one_batch(scan, boto):
    ecs = boto("ecs")
    arn = ecs.create_cluster(clusterName="web", tags=[{"key": "team", "value": "web"}],
                             settings=[{"name": "containerInsights", "value": "enabled"}],
                             capacityProviders=["FARGATE", "FARGATE_SPOT"])["cluster"]["clusterArn"]
    ecs.create_cluster(clusterName="jobs")
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")

    run = await scan([registry.get("ecs.cluster")])

    clusters = {r.id: r for r in run.resources("ecs.cluster")}
    assert set(clusters) == {"web", "jobs"}
    web = clusters["web"]
    assert web.uid == arn == f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/web"
    assert (web.type, web.name, web.tags) == ("ecs.cluster", "web", {"team": "web"})
    assert web.attributes["status"] == "ACTIVE"
    assert web.attributes["container_insights"] == "enabled"
    assert web.attributes["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    assert run.report.calls_by_type() == {"ecs.cluster": 1 + 1}  # list; one describe for all clusters


@covers("ecs.service")
async def test_ecs_services_are_listed_per_cluster_and_described_in_batches(scan, boto):
    ecs = boto("ecs")
    vpc, subnets = _subnets(boto)
    clusters = [ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"] for name in ("web", "jobs", "idle")]
    task = ecs.register_task_definition(family="app", containerDefinitions=[
        {"name": "app", "image": "nginx", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
    group = boto("ec2").create_security_group(GroupName="svc", Description="svc", VpcId=vpc)["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group], "assignPublicIp": "ENABLED"}}
    for i in range(12):  # more than one describe_services batch (10)
        ecs.create_service(cluster="web", serviceName=f"svc-{i:02}", taskDefinition=task, desiredCount=2,
                           launchType="FARGATE", networkConfiguration=network,
                           tags=[{"key": "team", "value": "web"}])
    ecs.create_service(cluster="jobs", serviceName="svc-00", taskDefinition=task, desiredCount=0)

    run = await scan([registry.get("ecs.service")])

    services = {r.uid: r for r in run.resources("ecs.service")}
    assert len(services) == 13
    web = services[f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/web/svc-00"]
    jobs = services[f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/jobs/svc-00"]
    assert (web.type, web.id, web.name, web.tags) == ("ecs.service", web.uid, "svc-00", {"team": "web"})
    assert jobs.name == "svc-00" and jobs.id != web.id  # same name, two clusters, two resources
    attributes = web.attributes
    assert (attributes["cluster_arn"], attributes["status"], attributes["desired_count"]) == (
        clusters[0], "ACTIVE", 2)
    assert (attributes["launch_type"], attributes["task_definition"]) == ("FARGATE", task)
    assert (attributes["subnets"], attributes["assign_public_ip"]) == (sorted(subnets), "ENABLED")
    assert attributes["security_groups"] == [group]
    assert jobs.attributes["cluster_arn"] == clusters[1]
    # clusters; services of each of 3 clusters; describes: 2 batches for web, 1 for jobs
    assert run.report.calls_by_type() == {"ecs.service": 1 + 3 + 3}


@covers("autoscaling.group")
async def test_auto_scaling_group(scan, boto, ami):
    _, subnets = _subnets(boto)
    template = boto("ec2").create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling = boto("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg", MinSize=0, MaxSize=4, DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"}, VPCZoneIdentifier=",".join(subnets),
        Tags=[{"Key": "team", "Value": "web", "PropagateAtLaunch": True, "ResourceId": "web-asg",
               "ResourceType": "auto-scaling-group"}],
    )

    run = await scan([registry.get("autoscaling.group")])

    [group] = run.resources("autoscaling.group")
    assert group.uid.startswith(f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:")
    assert group.uid.endswith(":autoScalingGroupName/web-asg") and group.id == group.uid
    assert (group.type, group.name, group.tags) == ("autoscaling.group", "web-asg", {"team": "web"})
    attributes = group.attributes
    assert (attributes["min_size"], attributes["max_size"], attributes["desired_capacity"]) == (0, 4, 0)
    assert attributes["launch_template"] == {"id": template, "name": "web", "version": "$Latest"}
    assert (attributes["subnets"], attributes["mixed_instances"]) == (sorted(subnets), False)
    assert attributes["created_time"].endswith("+00:00")
    assert run.report.calls_by_type() == {"autoscaling.group": 1}
