"""Attributed changes built from a bare resource: for policy test cases, `elava policy eval`
and the benchmark. A fixed time, so ids are the same from run to run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elava.events import Actor, AttributedChange, ChangeEvent, Resource

SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SAMPLE_ACCOUNT, SAMPLE_REGION = "123456789012", "us-east-1"


def sample_resource(data: dict[str, Any]) -> Resource:
    """A Resource from a partial mapping: type is required; uid, id, account, region are filled in."""
    account = data.get("account", SAMPLE_ACCOUNT)
    region = data.get("region", SAMPLE_REGION)
    ident = data.get("id", "sample-1")
    service, _, kind = data["type"].partition(".")
    uid = data.get("uid", f"arn:aws:{service}:{region}:{account}:{kind}/{ident}")
    return Resource(**{**data, "uid": uid, "id": ident, "account": account, "region": region})


def sample_change(resource: Resource, kind: str = "created", version: int = 1,
                  observed_at: datetime = SAMPLE_TIME, actor: dict[str, Any] | None = None,
                  confidence: float = 0.9, provisional: bool = False) -> AttributedChange:
    change = ChangeEvent(
        uid=resource.uid, type=resource.type, account=resource.account, region=resource.region,
        kind=kind, previous_version=None if kind == "created" else version - 1, new_version=version,
        observed_at=observed_at, resource=resource, cause_id=f"sample:{resource.uid}:{version}",
    )
    return AttributedChange(change=change, actor=Actor(**(actor or {})), confidence=confidence,
                            evidence=[], provisional=provisional)
