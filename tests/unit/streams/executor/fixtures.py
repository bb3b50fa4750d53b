"""Requests and ledger entries for the executor tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from elava.events import ActionRequest
from elava.settings import ExecutorSettings
from streams.executor.ledger import LedgerEntry

ACCOUNT = "123456789012"
REGION = "us-east-1"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DRY = ExecutorSettings()
ENFORCING = ExecutorSettings(dry_run=False, grace_period=timedelta(hours=2))

_UIDS = {"ec2.instance": "instance", "ec2.volume": "volume", "s3.bucket": None}


def uid_of(type_name: str, rid: str) -> str:
    if type_name == "s3.bucket":
        return f"arn:aws:s3:::{rid}"
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{type_name.split('.')[1]}/{rid}"


def request(action: str = "tag", mode: str = "enforce", *, type_name: str = "ec2.instance", rid: str = "i-0abc",
            destructive: bool | None = None, **params: Any) -> ActionRequest:
    if action in ("tag", "untag") and "tags" not in params:
        params["tags"] = {"owner": "alice"}
    return ActionRequest(uid=uid_of(type_name, rid), type=type_name, account=ACCOUNT, region=REGION, action=action,
                         params=params, mode=mode,
                         destructive=action in ("stop", "terminate", "delete") if destructive is None else destructive,
                         policy="test_policy", reason="because a test says so", decision_id="d-1",
                         resource_version=1, requested_at=NOW)


def entry(req: ActionRequest, state: str, *, stage: str | None = None, not_before: datetime | None = None,
          announced_dry_run: bool | None = None) -> LedgerEntry:
    return LedgerEntry(action_id=req.event_id, state=state, stage=stage, request=req, not_before=not_before,
                       announced_dry_run=announced_dry_run, updated_at=NOW)
