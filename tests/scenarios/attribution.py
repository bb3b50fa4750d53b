"""Attribution scenario suite: real (moto) changes, CloudTrail records as AWS writes them.

Each scenario is one resource, one action by one identity, and a way the trail
arrives: on time (before the next scan), late (after it), duplicated, missing, or
with a competitor (a failed call, an unrelated call, or a second consistent call
made earlier). Resources are changed in a moto account, scanned by the real
collector into the embedded pipeline, and the trail records go through the real
normaliser (`streams.attribution.records`).

    python -m tests.scenarios.attribution        # prints the results table (markdown)
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aioboto3

from collectors.aws.scanner import scan_account
from collectors.redact import Redactor
from elava.catalogue import registry
from elava.demo.simulated import ACCOUNT, CREDENTIALS, IMAGE_ID, REGION, SimulatedAccount
from streams.attribution.records import trail_events
from streams.embedded import EmbeddedPipeline
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore

TYPES = [registry.get(n) for n in ("ec2.instance", "ec2.security-group", "s3.bucket")]
REDACTOR = Redactor(b"attribution-scenarios-redaction-key")
IDENTITIES = {
    "alice": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "accountId": ACCOUNT,
              "principalId": "AIDAALICE", "userName": "alice"},
    "bob@example.com": {
        "type": "AssumedRole", "principalId": "AROASSO:bob@example.com", "accountId": ACCOUNT,
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b/bob@example.com",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROASSO", "accountId": ACCOUNT,
                           "userName": "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
                           "arn": f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/"
                                  "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b"}}},
    "terraform-deployer": {
        "type": "AssumedRole", "principalId": "AROATF:aws-go-sdk-1764320000", "accountId": ACCOUNT,
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/terraform-deployer/aws-go-sdk-1764320000",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROATF", "accountId": ACCOUNT,
                           "userName": "terraform-deployer",
                           "arn": f"arn:aws:iam::{ACCOUNT}:role/terraform-deployer"}}},
}
AGENTS = {"alice": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0", "bob@example.com": "signin.amazonaws.com",
          "terraform-deployer": "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io)"}
ARRIVALS = ("on-time", "late", "duplicated", "missing", "competing-failed", "competing-unrelated",
            "competing-earlier")


@dataclass
class Scenario:
    action: str
    actor: str
    arrival: str
    target: str = ""  # resource id once known
    extra: dict = field(default_factory=dict)

    @property
    def truth(self) -> str | None:
        return None if self.arrival == "missing" else self.actor


def record(name: str, source: str, actor: str, at: datetime, request: dict, response: dict | None = None,
           error: str | None = None) -> dict:
    body = {"eventVersion": "1.09", "userIdentity": IDENTITIES[actor], "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source, "eventName": name, "awsRegion": REGION, "sourceIPAddress": "203.0.113.7",
            "userAgent": AGENTS[actor], "requestParameters": request, "responseElements": response,
            "eventID": str(uuid.uuid4()), "readOnly": False, "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT}
    if error:
        body.update(errorCode=error, errorMessage="denied", responseElements=None)
    return body


def _instance(cloud: SimulatedAccount, tags: list[dict]) -> str:
    spec = [{"ResourceType": "instance", "Tags": tags}] if tags else []
    return cloud.client("ec2").run_instances(ImageId=IMAGE_ID, MinCount=1, MaxCount=1,
                                             TagSpecifications=spec)["Instances"][0]["InstanceId"]


class Actions:
    """For each action: set the scene, do it in moto, and write the record it leaves."""

    @staticmethod
    def setup(cloud: SimulatedAccount, s: Scenario) -> None:
        ec2 = cloud.client("ec2")
        if s.action == "open-ssh":
            s.target = ec2.create_security_group(GroupName=f"g-{uuid.uuid4().hex[:8]}", Description="d")["GroupId"]
        elif s.action == "untag":
            s.target = _instance(cloud, [{"Key": "owner", "Value": "team"}])
        elif s.action == "terminate":
            s.target = _instance(cloud, [])
        elif s.action == "tag-bucket":
            s.target = f"b-{uuid.uuid4().hex[:12]}"
            cloud.client("s3").create_bucket(Bucket=s.target)

    @staticmethod
    def act(cloud: SimulatedAccount, s: Scenario) -> None:
        ec2 = cloud.client("ec2")
        if s.action == "open-ssh":
            ec2.authorize_security_group_ingress(GroupId=s.target, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        elif s.action == "untag":
            ec2.delete_tags(Resources=[s.target], Tags=[{"Key": "owner"}])
        elif s.action == "terminate":
            ec2.terminate_instances(InstanceIds=[s.target])
        elif s.action == "tag-bucket":
            cloud.client("s3").put_bucket_tagging(Bucket=s.target, Tagging={"TagSet": [{"Key": "env", "Value": "x"}]})
        elif s.action == "create-group":
            s.target = ec2.create_security_group(GroupName=f"n-{uuid.uuid4().hex[:8]}", Description="d")["GroupId"]

    @staticmethod
    def trail(s: Scenario, actor: str, at: datetime, error: str | None = None, unrelated: bool = False) -> dict:
        ec2 = "ec2.amazonaws.com"
        items = {"items": [{"resourceId": s.target}]}
        calls = {
            "open-ssh": ("AuthorizeSecurityGroupIngress", ec2, {"groupId": s.target}, None),
            "untag": ("DeleteTags", ec2, {"resourcesSet": items, "tagSet": {"items": [{"key": "owner"}]}}, None),
            "terminate": ("TerminateInstances", ec2, {"instancesSet": {"items": [{"instanceId": s.target}]}}, None),
            "tag-bucket": ("PutBucketTagging", "s3.amazonaws.com", {"bucketName": s.target}, None),
            "create-group": ("CreateSecurityGroup", ec2, {"groupName": "n"}, {"groupId": s.target}),
        }
        others = {
            "open-ssh": ("ModifySecurityGroupRules", ec2, {"ModifySecurityGroupRulesRequest": {
                "GroupId": s.target, "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-0abc", "SecurityGroupRule": {
                    "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv4": "10.0.0.0/8"}}}}, None),
            "untag": ("ModifyInstanceAttribute", ec2, {"instanceId": s.target}, None),
            "terminate": ("StopInstances", ec2, {"instancesSet": {"items": [{"instanceId": s.target}]}}, None),
            "tag-bucket": ("PutBucketVersioning", "s3.amazonaws.com", {"bucketName": s.target}, None),
            "create-group": ("CreateTags", ec2, {"resourcesSet": items, "tagSet": {"items": [{"key": "x"}]}}, None),
        }
        name, source, request, response = (others if unrelated else calls)[s.action]
        return record(name, source, actor, at, request, response, error)


def scenarios() -> list[Scenario]:
    actions = ("open-ssh", "untag", "terminate", "tag-bucket", "create-group")
    return [Scenario(a, who, arrival) for a, who, arrival in itertools.product(actions, IDENTITIES, ARRIVALS)]


def _rival(actor: str) -> str:
    names = list(IDENTITIES)
    return names[(names.index(actor) + 1) % len(names)]


def trails_for(s: Scenario, acted_at: datetime) -> tuple[list[dict], list[dict]]:
    """(records delivered before the next scan, records delivered after it)."""
    own = Actions.trail(s, s.actor, acted_at)
    rival = _rival(s.actor)
    plans = {
        "on-time": ([own], []),
        "late": ([], [own]),
        "duplicated": ([own], [own]),
        "missing": ([], []),
        "competing-failed": ([Actions.trail(s, rival, acted_at, error="AccessDenied"), own], []),
        "competing-unrelated": ([Actions.trail(s, rival, acted_at, unrelated=True), own], []),
        "competing-earlier": ([Actions.trail(s, rival, acted_at - timedelta(seconds=1)), own], []),
    }
    return plans[s.arrival]


@dataclass
class Outcome:
    scenario: Scenario
    actor: str | None
    confidence: float

    @property
    def correct(self) -> bool:
        if self.scenario.truth is None:
            return self.actor is None or self.confidence == 0.0
        return self.actor == self.scenario.truth

    @property
    def confidently_wrong(self) -> bool:
        return not self.correct and self.confidence >= 0.9


async def _scan(pipeline: EmbeddedPipeline, cloud: SimulatedAccount, number: int) -> None:
    session = aioboto3.Session(region_name=REGION, **CREDENTIALS)
    report = await scan_account(session, ACCOUNT, [REGION], TYPES, pipeline, buckets=8, page_size=500,
                                endpoint_url=cloud.endpoint_url, scan_id=f"scenario-scan-{number}",
                                redactor=REDACTOR)
    assert not report.partial, report.failures()


async def _feed(pipeline: EmbeddedPipeline, records: list[dict]) -> None:
    for raw in records:
        for event in trail_events(raw):
            await pipeline.trail(event)


def _outcome(pipeline: EmbeddedPipeline, s: Scenario) -> Outcome:
    final = {}
    for attributed in pipeline.outputs.attributed:  # later updates overwrite earlier ones
        change = attributed.change
        if change.resource is not None and change.resource.id == s.target and change.kind != "created" \
                or (s.action == "create-group" and change.resource is not None and change.resource.id == s.target):
            final[change.event_id] = attributed
    if len(final) != 1:
        raise AssertionError(f"{s}: expected one change, found {len(final)}")
    (attributed,) = final.values()
    return Outcome(s, attributed.actor.name if attributed.confidence > 0 else None, attributed.confidence)


async def run_suite() -> list[Outcome]:
    plan = scenarios()
    with SimulatedAccount() as cloud:
        cloud.reset()
        pipeline = EmbeddedPipeline(VersionStore(MemoryKV()))
        for s in plan:
            Actions.setup(cloud, s)
        await _scan(pipeline, cloud, 1)
        pipeline.outputs.clear()
        await asyncio.sleep(1.5)  # the changes happen after the first scan started
        late: list[dict] = []
        for s in plan:
            Actions.act(cloud, s)
            early, later = trails_for(s, datetime.now(UTC))
            await _feed(pipeline, early)
            late.extend(later)
        await _scan(pipeline, cloud, 2)
        await _feed(pipeline, late)
        return [_outcome(pipeline, s) for s in plan]


def table(outcomes: list[Outcome]) -> str:
    rows = ["| trail arrival | scenarios | correct actor | accuracy | wrong at confidence ≥ 0.9 | mean confidence |",
            "|---|---|---|---|---|---|"]
    for arrival in ARRIVALS + ("all",):
        group = [o for o in outcomes if arrival in ("all", o.scenario.arrival)]
        correct = sum(o.correct for o in group)
        wrong = sum(o.confidently_wrong for o in group)
        mean = sum(o.confidence for o in group) / len(group)
        rows.append(f"| {arrival} | {len(group)} | {correct} | {correct / len(group):.1%} | {wrong} | {mean:.2f} |")
    return "\n".join(rows)


def main() -> None:
    outcomes = asyncio.run(run_suite())
    print(table(outcomes))
    wrong = Counter((o.scenario.action, o.scenario.arrival) for o in outcomes if not o.correct)
    if wrong:
        print("\nincorrect:", dict(wrong))


if __name__ == "__main__":
    main()
