"""Builders for drift tests: a modification of any type, and its attribution."""

from __future__ import annotations

from datetime import UTC, datetime

from elava.events import Actor, AttributedChange, ChangeEvent, FieldChange, Resource

T = datetime(2026, 11, 28, 12, tzinfo=UTC)
ACCOUNT, REGION = "111122223333", "us-east-1"
SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
ALICE = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/alice", name="alice", kind="human", via="console")
TERRAFORM_RUNNER = Actor(type="AssumedRole", arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run", name="ci",
                         kind="automation", via="terraform")
AUTOSCALING = Actor(type="AWSService", name="autoscaling.amazonaws.com", kind="service", via="autoscaling")


def fc(path: str, op: str = "replace", old=None, new=None) -> FieldChange:
    return FieldChange(path=path, op=op, old=old, new=new)


def modified(type_name: str, *diff: FieldChange, tags: dict[str, str] | None = None,
             attributes: dict | None = None) -> ChangeEvent:
    ident = "x-1"
    uid = f"arn:aws:{type_name.split('.')[0]}:{REGION}:{ACCOUNT}:{type_name.split('.')[1]}/{ident}"
    resource = Resource(uid=uid, type=type_name, id=ident, account=ACCOUNT, region=REGION, name=ident,
                        tags=tags or {}, attributes=attributes or {})
    return ChangeEvent(uid=uid, type=type_name, account=ACCOUNT, region=REGION, kind="modified",
                       previous_version=1, new_version=2, observed_at=T, diff=list(diff), resource=resource,
                       cause_id="page-2")


def by(change: ChangeEvent, actor: Actor, confidence: float = 0.9, provisional: bool = False) -> AttributedChange:
    return AttributedChange(change=change, actor=actor, confidence=confidence, evidence=["ct-1"],
                            provisional=provisional)
