"""Attributed changes as the worker publishes them, for the fleet rules and the fleet stage."""

from __future__ import annotations

from datetime import datetime

from elava.events import Actor, AttributedChange, ChangeEvent, Resource
from tests.unit.streams.fixtures import ACCOUNT, REGION

BOB = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/bob", name="bob", kind="human", via="cli")
NOBODY = Actor()


def instance(ident: str, name: str | None = "web") -> Resource:
    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{ident}", type="ec2.instance", id=ident,
                    account=ACCOUNT, region=REGION, name=name, attributes={"state": "running"})


def attributed(resource: Resource, kind: str, at: datetime, version: int = 1, actor: Actor = NOBODY,
               trail: bool = True) -> AttributedChange:
    """One change (a deletion carries the resource last seen alive, as observe publishes it)."""
    change = ChangeEvent(uid=resource.uid, type=resource.type, account=resource.account, region=resource.region,
                         kind=kind, previous_version=version - 1 or None, new_version=version, observed_at=at,
                         resource=resource, cause_id=f"scan-{at.isoformat()}")
    named = actor is not NOBODY
    return AttributedChange(change=change, actor=actor, confidence=0.9 if named else 0.0,
                            provisional=not (named and trail))
