"""One example of every event, with fixed values: the sample messages of docs/topics.md
(validated against docs/schemas/) and the inputs of the OCSF mapping's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from elava.analyzer_events import DriftEvent, IgnoredChange, PatternEvent, PatternEvidence, WasteFinding
from elava.events import (
    ActionRequest,
    ActionResult,
    Actor,
    AttributedChange,
    ChangeEvent,
    Contributor,
    FieldChange,
    MetricSample,
    MetricsObservation,
    Observation,
    PolicyDecision,
    Resource,
    ScanMarker,
    ScanRequest,
    TouchedResource,
    TrailEvent,
)

AT = datetime(2026, 11, 28, 10, 36, 31, tzinfo=UTC)
ACCOUNT, REGION = "123456789012", "us-east-1"
SG_ID = "sg-0b6f3c2a9d1e4f567"
SG_UID = f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{SG_ID}"
SHARD = f"{ACCOUNT}/{REGION}/ec2.security-group/7"
SSH_RULE = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
ALICE = Actor(type="AssumedRole", arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice", name="alice",
              role="Admin", kind="human", via="console", source_ip="203.0.113.7",
              user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")


def security_group(ingress: list[dict]) -> Resource:
    return Resource(uid=SG_UID, type="ec2.security-group", id=SG_ID, account=ACCOUNT, region=REGION, name="web",
                    tags={"owner": "alice"}, attributes={"vpc_id": "vpc-0a1b2c3d", "ingress": ingress})


def observation() -> Observation:
    return Observation(scan_id=f"{ACCOUNT}-5f0c", account=ACCOUNT, region=REGION, type="ec2.security-group",
                       shard=SHARD, page=0, observed_at=AT, resources=[security_group([SSH_RULE])])


def scan_marker() -> ScanMarker:
    return ScanMarker(scan_id=f"{ACCOUNT}-5f0c", account=ACCOUNT, region=REGION, type="ec2.security-group",
                      shard=SHARD, status="ok", count=1, ids_digest="9b1f0c", ids=[SG_ID],
                      started_at=AT - timedelta(seconds=4), finished_at=AT)


def scan_request() -> ScanRequest:
    return ScanRequest(account=ACCOUNT, regions=[REGION], tier="production", requested_at=AT)


def trail_event() -> TrailEvent:
    return TrailEvent(trail_event_id="6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", event_name="AuthorizeSecurityGroupIngress",
                      event_source="ec2.amazonaws.com", event_time=AT - timedelta(minutes=3), account=ACCOUNT,
                      region=REGION, actor=ALICE,
                      resource=TouchedResource(uid=SG_UID, type="ec2.security-group", id=SG_ID))


def change() -> ChangeEvent:
    return ChangeEvent(uid=SG_UID, type="ec2.security-group", account=ACCOUNT, region=REGION, kind="modified",
                       previous_version=1, new_version=2, observed_at=AT,
                       diff=[FieldChange(path="attributes.ingress", op="add", new=SSH_RULE)],
                       resource=security_group([SSH_RULE]), cause_id=observation().event_id)


def attributed_change() -> AttributedChange:
    evidence = [trail_event().trail_event_id]
    return AttributedChange(change=change(), actor=ALICE, confidence=0.9, evidence=evidence,
                            actors=[Contributor(actor=ALICE, share=1.0, confidence=0.9, evidence=evidence)])


def drift() -> DriftEvent:
    c = change()
    return DriftEvent(change_id=c.event_id, uid=SG_UID, type=c.type, account=ACCOUNT, region=REGION,
                      severity="critical", summary="ingress rule added: tcp port 22 from 0.0.0.0/0", diff=c.diff,
                      detected_at=AT, actor=ALICE, confidence=0.9, version=2,
                      rules=["world-open-admin-port"],
                      ignored=[IgnoredChange(path="tags.aws:cloudformation:logical-id", rule="aws-tag")])


def pattern() -> PatternEvent:
    uid = f"arn:aws:s3:::{ACCOUNT}-build-cache"
    versions = [PatternEvidence(uid=uid, version=3, kind="deleted", at=AT - timedelta(minutes=20), detail="deleted"),
                PatternEvidence(uid=uid, version=4, kind="created", at=AT, actor="ci-deployer",
                                detail="created again")]
    return PatternEvent(pattern="recreated", uid=uid, type="s3.bucket", account=ACCOUNT, region="global",
                        name=f"{ACCOUNT}-build-cache", summary=f"s3.bucket {ACCOUNT}-build-cache deleted and created "
                        "again under the same name 20m later", evidence=versions, detected_at=AT)


VOLUME_UID = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0c1d2e3f4a5b6c7d8"


def waste() -> WasteFinding:
    return WasteFinding(uid=VOLUME_UID, type="ec2.volume", account=ACCOUNT, region=REGION,
                        pattern="unattached-volume", reason="attached to nothing for 12 days",
                        since=AT - timedelta(days=12), detected_at=AT, status="open",
                        evidence={"state": "available", "attached": False},
                        units={"gib": 100, "volume_type": "gp3", "iops": 3000, "throughput_mibps": 125,
                               "hours_idle": 288})


def metrics() -> MetricsObservation:
    instance = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0a1b2c3d4e5f60718"
    return MetricsObservation(collection_id=f"{ACCOUNT}-metrics-5f0c", account=ACCOUNT, region=REGION,
                              type="ec2.instance", shard=f"{ACCOUNT}/{REGION}/ec2.instance/3",
                              window_start=AT - timedelta(days=14), observed_at=AT, shard_buckets=16,
                              samples=[MetricSample(uid=instance, values={"cpu": 4.0, "used_by.ec2.image": 0})])


def policy_decision() -> PolicyDecision:
    return PolicyDecision(uid=SG_UID, policy="open_admin_ports", decision="action",
                          messages=["security group web opens port 22 to 0.0.0.0/0"],
                          cause_id=attributed_change().event_id, decided_at=AT)


def action_request() -> ActionRequest:
    return ActionRequest(uid=SG_UID, type="ec2.security-group", account=ACCOUNT, region=REGION, action="notify",
                         mode="notify", policy="open_admin_ports", reason="SSH open to the world",
                         decision_id=policy_decision().event_id, resource_version=2, requested_at=AT)


def action_result() -> ActionResult:
    return ActionResult(request_id=action_request().event_id, uid=SG_UID, action="notify", policy="open_admin_ports",
                        status="notified", dry_run=True, detail="webhook answered 200", finished_at=AT)


ALL = (observation, scan_marker, scan_request, trail_event, change, attributed_change, drift, waste, metrics,
       policy_decision, action_request, action_result)
