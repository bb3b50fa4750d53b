"""The scenarios of the attribution suite, in three families.

- ``grid``: one resource, one action by one person, and a way its record arrives: on time
  (before the next scan), late (after it), twice, not at all, or beside a competitor — the
  same call by someone else that failed, an unrelated call by someone else, the same call
  by someone else a second earlier or (an idempotent repeat) a second later, or someone
  else's tag call before a deletion or after a creation (done in moto too).
- ``co-authors``: one resource changed by two or three people between two scans, in
  different parts (a rule and a tag, a stop and a tag, a rule, a tag and an egress rule)
  or in the same part (one removes a tag, the other adds one); the second person's record
  arrives on time or late.
- ``managed``: resources owned by a tool — a CloudFormation stack, an Auto Scaling group,
  ``ManagedBy=terraform``, ``created-by=alice``, a Kubernetes cluster tag, an EKS tag —
  created by their manager, or changed by it or by hand; the record arrives on time or not
  at all (then only the tags speak).
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from elava.demo.simulated import IMAGE_ID, SimulatedAccount
from elava.events import Actor
from tests.scenarios import cast

EC2, S3 = "ec2.amazonaws.com", "s3.amazonaws.com"
SECOND = timedelta(seconds=1)
GRID_ACTIONS = ("open-ssh", "untag", "terminate", "tag-bucket", "create-group", "tag-group")
ARRIVALS = ("on-time", "late", "duplicated", "missing", "competing-failed", "competing-unrelated",
            "competing-earlier", "competing-later", "competing-tag")
# A second identical call succeeds only where the call is idempotent (a duplicate rule fails).
REPEATABLE = ("untag", "terminate", "tag-bucket", "tag-group")
LIFECYCLE = ("terminate", "create-group")
PATTERNS = ("rule+tag", "stop+tag", "untag+tag", "rule+tag+egress")
MANAGERS = {"cloudformation-stack": "cloudformation", "autoscaling-group": "autoscaling",
            "iac-tool-tag": "terraform-deployer", "created-by-tag": "alice", "kubernetes-cluster-tag": "eks",
            "eks-tag": "eks"}
MANAGER_TAGS = {"iac-tool-tag": ("ManagedBy", "terraform"), "created-by-tag": ("created-by", "alice"),
                "kubernetes-cluster-tag": ("kubernetes.io/cluster/prod", "owned"), "eks-tag": ("eks:cluster-name", "prod")}


@dataclass
class Scenario:
    family: str
    action: str
    actors: tuple[str, ...]  # who acts, in order
    arrival: str
    kind: str = "modified"  # the change whose attribution is judged
    target: str = ""  # the resource id, once known
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.family}/{self.action}/{'+'.join(self.actors)}/{self.arrival}"

    @property
    def truth(self) -> list[Actor]:
        return [cast.truth(actor) for actor in self.actors]


def scenarios() -> list[Scenario]:
    return grid() + co_authors() + managed()


# --- moto helpers -------------------------------------------------------------------

def _instance(cloud: SimulatedAccount, tags: dict[str, str] | None = None) -> str:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    return cloud.client("ec2").run_instances(ImageId=IMAGE_ID, MinCount=1, MaxCount=1,
                                             TagSpecifications=spec)["Instances"][0]["InstanceId"]


def _group(cloud: SimulatedAccount, tags: dict[str, str] | None = None) -> str:
    spec = [{"ResourceType": "security-group", "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}]
    return cloud.client("ec2").create_security_group(GroupName=f"g-{uuid.uuid4().hex[:8]}", Description="d",
                                                     TagSpecifications=spec if tags else [])["GroupId"]


def _tag(cloud: SimulatedAccount, target: str, key: str) -> None:
    cloud.client("ec2").create_tags(Resources=[target], Tags=[{"Key": key, "Value": "yes"}])


SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
ALL_OUT = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


# --- records -----------------------------------------------------------------------

def _items(target: str) -> dict:
    return {"items": [{"resourceId": target}]}


def call(call_name: str, target: str, actor: str, at: datetime, error: str | None = None) -> dict:
    """The record of ``actor`` making ``call_name`` on ``target`` at ``at``."""
    calls = {
        "AuthorizeSecurityGroupIngress": (EC2, {"groupId": target}, None),
        "RevokeSecurityGroupEgress": (EC2, {"groupId": target}, None),
        "ModifySecurityGroupRules": (EC2, {"ModifySecurityGroupRulesRequest": {"GroupId": target}}, None),
        "CreateTags": (EC2, {"resourcesSet": _items(target), "tagSet": {"items": [{"key": "x"}]}}, None),
        "DeleteTags": (EC2, {"resourcesSet": _items(target), "tagSet": {"items": [{"key": "owner"}]}}, None),
        "TerminateInstances": (EC2, {"instancesSet": {"items": [{"instanceId": target}]}}, None),
        "StopInstances": (EC2, {"instancesSet": {"items": [{"instanceId": target}]}}, None),
        "ModifyInstanceAttribute": (EC2, {"instanceId": target}, None),
        "RunInstances": (EC2, {"instancesSet": {"items": [{"imageId": IMAGE_ID}]}},
                         {"instancesSet": {"items": [{"instanceId": target}]}}),
        "CreateSecurityGroup": (EC2, {"groupName": "n"}, {"groupId": target}),
        "PutBucketTagging": (S3, {"bucketName": target}, None),
        "PutBucketVersioning": (S3, {"bucketName": target}, None),
    }
    source, request, response = calls[call_name]
    return cast.record(call_name, source, actor, at, request, response, error)


def _rival(actor: str) -> str:
    return cast.PEOPLE[(cast.PEOPLE.index(actor) + 1) % len(cast.PEOPLE)]


# --- grid ----------------------------------------------------------------------------

GRID_CALLS = {"open-ssh": "AuthorizeSecurityGroupIngress", "untag": "DeleteTags", "terminate": "TerminateInstances",
              "tag-bucket": "PutBucketTagging", "create-group": "CreateSecurityGroup", "tag-group": "CreateTags"}
UNRELATED = {"open-ssh": "ModifySecurityGroupRules", "untag": "ModifyInstanceAttribute",
             "terminate": "StopInstances", "tag-bucket": "PutBucketVersioning", "create-group": "CreateTags",
             "tag-group": "ModifySecurityGroupRules"}


def grid() -> list[Scenario]:
    plan = []
    for action, actor, arrival in itertools.product(GRID_ACTIONS, cast.PEOPLE, ARRIVALS):
        if arrival == "competing-later" and action not in REPEATABLE:
            continue
        if arrival == "competing-tag" and action not in LIFECYCLE:
            continue
        kind = {"terminate": "deleted", "create-group": "created"}.get(action, "modified")
        plan.append(Scenario("grid", action, (actor,), arrival, kind))
    return plan


def grid_setup(cloud: SimulatedAccount, s: Scenario) -> None:
    if s.action in ("open-ssh", "tag-group"):
        s.target = _group(cloud)
    elif s.action == "untag":
        s.target = _instance(cloud, {"owner": "team"})
    elif s.action == "terminate":
        s.target = _instance(cloud)
    elif s.action == "tag-bucket":
        s.target = f"b-{uuid.uuid4().hex[:12]}"
        cloud.client("s3").create_bucket(Bucket=s.target)


def _grid_change(cloud: SimulatedAccount, s: Scenario) -> None:
    ec2 = cloud.client("ec2")
    if s.action == "open-ssh":
        ec2.authorize_security_group_ingress(GroupId=s.target, IpPermissions=SSH)
    elif s.action == "untag":
        ec2.delete_tags(Resources=[s.target], Tags=[{"Key": "owner"}])
    elif s.action == "terminate":
        ec2.terminate_instances(InstanceIds=[s.target])
    elif s.action == "tag-bucket":
        cloud.client("s3").put_bucket_tagging(Bucket=s.target, Tagging={"TagSet": [{"Key": "env", "Value": "x"}]})
    elif s.action == "create-group":
        s.target = _group(cloud)
    elif s.action == "tag-group":
        _tag(cloud, s.target, "env")


def grid_act(cloud: SimulatedAccount, s: Scenario, at: datetime) -> tuple[list[dict], list[dict]]:
    """Do it in moto; (records delivered before the next scan, records delivered after it)."""
    (actor,) = s.actors
    rival = _rival(actor)
    if s.arrival == "competing-tag" and s.action == "terminate":
        _tag(cloud, s.target, "reviewed")  # someone tags it, then it is terminated
    _grid_change(cloud, s)
    if s.arrival == "competing-tag" and s.action == "create-group":
        _tag(cloud, s.target, "reviewed")  # created, then someone tags it
    name = GRID_CALLS[s.action]
    own = call(name, s.target, actor, at)
    plans = {
        "on-time": ([own], []), "late": ([], [own]), "duplicated": ([own], [own]), "missing": ([], []),
        "competing-failed": ([call(name, s.target, rival, at, error="AccessDenied"), own], []),
        "competing-unrelated": ([call(UNRELATED[s.action], s.target, rival, at), own], []),
        "competing-earlier": ([call(name, s.target, rival, at - SECOND), own], []),
        "competing-later": ([own, call(name, s.target, rival, at + SECOND)], []),
        "competing-tag": ([call("CreateTags", s.target, rival, at - SECOND if s.action == "terminate"
                                else at + SECOND), own], []),
    }
    return plans[s.arrival]


# --- co-authors ----------------------------------------------------------------------

def co_authors() -> list[Scenario]:
    plan = []
    for pattern in PATTERNS:
        groups = (itertools.combinations(cast.PEOPLE, 3) if pattern.count("+") == 2
                  else itertools.combinations(cast.PEOPLE, 2))
        for actors, arrival in itertools.product(groups, ("on-time", "late")):
            plan.append(Scenario("co-authors", pattern, actors, arrival))
    return plan


def co_setup(cloud: SimulatedAccount, s: Scenario) -> None:
    if s.action.startswith("rule"):
        s.target = _group(cloud)
        if s.action.endswith("egress"):
            cloud.client("ec2").authorize_security_group_egress(GroupId=s.target, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    else:
        s.target = _instance(cloud, {"owner": "team"})


def co_act(cloud: SimulatedAccount, s: Scenario, at: datetime) -> tuple[list[dict], list[dict]]:
    ec2, steps = cloud.client("ec2"), s.action.split("+")
    records = []
    for i, (step, actor) in enumerate(zip(steps, s.actors, strict=True)):
        when = at + i * SECOND
        if step == "rule":
            ec2.authorize_security_group_ingress(GroupId=s.target, IpPermissions=SSH)
            records.append(call("AuthorizeSecurityGroupIngress", s.target, actor, when))
        elif step == "egress":
            ec2.revoke_security_group_egress(GroupId=s.target, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
            records.append(call("RevokeSecurityGroupEgress", s.target, actor, when))
        elif step == "stop":
            ec2.stop_instances(InstanceIds=[s.target])
            records.append(call("StopInstances", s.target, actor, when))
        elif step == "untag":
            ec2.delete_tags(Resources=[s.target], Tags=[{"Key": "owner"}])
            records.append(call("DeleteTags", s.target, actor, when))
        else:
            _tag(cloud, s.target, f"reviewed-{i}")
            records.append(call("CreateTags", s.target, actor, when))
    if s.arrival == "late":
        return records[:1], records[1:]
    return records, []


# --- managed -------------------------------------------------------------------------

def managed() -> list[Scenario]:
    plan = []
    for rule, manager in MANAGERS.items():
        hands = [p for p in ("alice", "bob@example.com", "carol", "terraform-deployer") if p != manager][:2]
        for arrival in ("on-time", "missing"):
            plan.append(Scenario("managed", f"{rule}:create", (manager,), arrival, "created"))
            plan.extend(Scenario("managed", f"{rule}:change", (who,), arrival) for who in (manager, *hands))
    return plan


def _stack_group(cloud: SimulatedAccount) -> str:
    stack = f"s-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"G": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "d"}}}}
    cloud.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    (group,) = cloud.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    return group["PhysicalResourceId"]


def _group_instance(cloud: SimulatedAccount) -> str:
    name = f"asg-{uuid.uuid4().hex[:8]}"
    cloud.client("ec2").create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": IMAGE_ID})
    scaling = cloud.client("autoscaling")
    scaling.create_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": name},
                                      MinSize=1, MaxSize=1, AvailabilityZones=["us-east-1a"])
    (group,) = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return group["Instances"][0]["InstanceId"]


def _managed_resource(cloud: SimulatedAccount, rule: str) -> tuple[str, str]:
    """A resource its manager made: (id, the call that made it)."""
    if rule == "cloudformation-stack":
        return _stack_group(cloud), "CreateSecurityGroup"
    if rule == "autoscaling-group":
        return _group_instance(cloud), "RunInstances"
    key, value = MANAGER_TAGS[rule]
    if rule == "iac-tool-tag":
        return _group(cloud, {key: value}), "CreateSecurityGroup"
    return _instance(cloud, {key: value}), "RunInstances"


def managed_setup(cloud: SimulatedAccount, s: Scenario) -> None:
    rule, step = s.action.split(":")
    if step == "change":
        s.target, _ = _managed_resource(cloud, rule)


def managed_act(cloud: SimulatedAccount, s: Scenario, at: datetime) -> tuple[list[dict], list[dict]]:
    rule, step = s.action.split(":")
    (actor,) = s.actors
    if step == "create":
        s.target, name = _managed_resource(cloud, rule)
    else:
        _tag(cloud, s.target, "touched")
        name = "CreateTags"
    return ([call(name, s.target, actor, at)] if s.arrival == "on-time" else []), []


SETUP = {"grid": grid_setup, "co-authors": co_setup, "managed": managed_setup}
ACT = {"grid": grid_act, "co-authors": co_act, "managed": managed_act}
