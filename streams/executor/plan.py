"""What the executor does next with an action: pure decisions, no I/O.

Two questions, both answered here without touching Kafka or AWS:

- ``plan``: given a request, its ledger entry (if any), the settings and the time,
  which step comes next (nothing, a result, a notification, an announcement, an
  execution, or waiting for the grace period)?
- ``decide``: given what AWS shows about the resource now (an ``Inspection``), may the
  action go ahead, and if not, what is its result?

Safety rules live here, where they are easy to test: monitor changes nothing; notify
only tells; enforce changes AWS only when the executor is not in dry-run; a
destructive action is first announced and waits ``grace_period``; a protected
resource is never changed; an action its policy no longer asks for is not done; a
finished or scheduled action is never started again.

The mode is the executor's own (its policy's, under its ceiling: see ``vetting``) and
whether an action destroys comes from the action catalogue: never from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elava.events import ActionMode, ActionRequest, ActionResult, ActionStatus, AwsCall
from elava.settings import ExecutorSettings
from streams.executor.ledger import LedgerEntry
from streams.policy.catalogue import is_destructive


@dataclass(frozen=True)
class Ignore:
    """A redelivered request the ledger already knows: nothing to do."""

    reason: str


@dataclass(frozen=True)
class Finish:
    """Publish this result; nothing is sent and nothing changes."""

    status: ActionStatus
    detail: str


@dataclass(frozen=True)
class Notify:
    """Tell people (webhook + log), then finish as ``notified``."""


@dataclass(frozen=True)
class Announce:
    """Destructive: check the resource, tell people, schedule for ``not_before``."""

    not_before: datetime


@dataclass(frozen=True)
class Execute:
    """Check the resource in AWS, then act (or describe the act in dry-run).

    ``scheduled``: the action was announced (a resource that changed meanwhile cancels it);
    ``reconcile``: a crash interrupted it, so AWS may already show it done.
    """

    scheduled: bool = False
    reconcile: bool = False


@dataclass(frozen=True)
class Wait:
    not_before: datetime


Step = Ignore | Finish | Notify | Announce | Execute | Wait


def plan(request: ActionRequest, entry: LedgerEntry | None, settings: ExecutorSettings, now: datetime,
         mode: ActionMode) -> Step:
    """``mode``: the executor's own for the request's policy (what the request claims is not used)."""
    if entry is not None:
        return _continue(entry, now)
    if mode == "monitor":
        return Finish("monitored", f"monitor mode: would {describe(request)}")
    if mode == "notify" or request.action == "notify":
        return Notify()
    if is_destructive(request.action):
        return Announce(now + settings.grace_period)
    return Execute()


def _continue(entry: LedgerEntry, now: datetime) -> Step:
    if entry.state == "done":
        status = entry.result.status if entry.result else "done"
        return Ignore(f"already finished ({status})")
    if entry.state == "scheduled":
        if entry.not_before is None or entry.not_before <= now:
            return Execute(scheduled=True)
        return Wait(entry.not_before)
    # started: a crash came between the write-ahead record and the result
    if entry.stage == "notify":
        return Notify()  # resent under the same idempotency key
    if entry.stage == "announce":
        return Announce(entry.not_before or now)
    return Execute(scheduled=entry.not_before is not None, reconcile=True)


def effective_dry_run(entry: LedgerEntry | None, settings: ExecutorSettings) -> bool:
    """Dry-run unless the executor runs with enforce and the announcement was not a dry run."""
    announced_dry = entry is not None and entry.announced_dry_run is not False and entry.not_before is not None
    return settings.dry_run or announced_dry


@dataclass(frozen=True)
class Inspection:
    """What AWS shows about the resource right now, as an effector reads it."""

    exists: bool
    protected: bool = False
    done: bool = False  # already in the wanted state (for a delete: gone)
    applies: bool = True  # still in the state that made the policy ask
    detail: str = ""  # e.g. "attached to i-0abc", "state stopped"
    # Does the policy, evaluated on the resource as it is now, still ask for this action?
    asked: bool = True
    asked_detail: str = ""


@dataclass(frozen=True)
class Decision:
    act: bool
    status: ActionStatus
    detail: str


def decide(request: ActionRequest, seen: Inspection, *, mode: ActionMode, dry_run: bool, scheduled: bool = False,
           reconcile: bool = False, protect_tag: str = "elava:protect") -> Decision:
    """May the action go ahead now? If not, the result that says why."""
    refused: ActionStatus = "cancelled" if scheduled else "skipped"
    if reconcile and seen.done:
        return Decision(False, "executed", f"{describe(request)}: AWS already shows it done (finished before a restart)")
    if not seen.exists:
        return Decision(False, refused, f"{describe(request)}: the resource is gone")
    if seen.protected:
        return Decision(False, refused, f"{describe(request)}: protected by tag {protect_tag}")
    if seen.done:
        return Decision(False, refused, f"{describe(request)}: already done ({seen.detail or 'wanted state'})")
    if not seen.asked:  # whether announced or not: the policy itself calls it off
        return Decision(False, "cancelled", f"{describe(request)}: {seen.asked_detail}")
    if not seen.applies:
        return Decision(False, refused, f"{describe(request)}: no longer applies ({seen.detail})")
    if dry_run or mode != "enforce":
        return Decision(False, "dry_run", f"dry-run: would {describe(request)}")
    return Decision(True, "executed", describe(request))


def vet_announcement(request: ActionRequest, seen: Inspection, protect_tag: str) -> Decision:
    """Before announcing a destructive action: only what could really happen is announced."""
    decision = decide(request, seen, mode="enforce", dry_run=True, protect_tag=protect_tag)
    if decision.status == "dry_run":
        return Decision(True, "scheduled", f"announced: will {describe(request)}")
    return decision


def describe(request: ActionRequest) -> str:
    """``stop ec2.instance i-0abc``, with the tags of a tag action."""
    text = f"{request.action} {request.type} {resource_id(request.uid)}"
    tags = request.params.get("tags")
    if request.action in ("tag", "untag") and tags:
        text += f" {_show_tags(tags)}"
    return text


def _show_tags(tags: Any) -> str:
    if isinstance(tags, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return ", ".join(str(k) for k in tags)


def resource_id(uid: str) -> str:
    """The id AWS APIs take: ``i-0abc`` from ``arn:aws:ec2:…:instance/i-0abc``, the bucket from ``arn:aws:s3:::b``."""
    resource_part = uid.split(":", 5)[-1]
    return resource_part.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Audit:
    """Who acted and how, for a result: the AWS principal, the AWS calls, the signing key."""

    principal: str | None = None
    calls: tuple[AwsCall, ...] = ()
    signed_by: str | None = None


def result_for(request: ActionRequest, status: ActionStatus, detail: str, *, dry_run: bool, now: datetime,
               not_before: datetime | None = None, audit: Audit = Audit()) -> ActionResult:
    return ActionResult(request_id=request.event_id, uid=request.uid, action=request.action, policy=request.policy,
                        status=status, dry_run=dry_run, detail=detail, not_before=not_before, finished_at=now,
                        change_id=request.change_id, attribution_id=request.attribution_id,
                        decision_id=request.decision_id, principal=audit.principal, aws_calls=list(audit.calls),
                        signed_by=audit.signed_by)


NOTIFIED_RESULTS = frozenset({"executed", "cancelled", "failed"})  # besides notices and announcements


def notice(request: ActionRequest, *, kind: str, dry_run: bool, not_before: datetime | None,
           result: ActionResult | None = None) -> dict[str, Any]:
    """The JSON a notification carries, with its idempotency key.

    ``kind``: ``notice`` (notify mode), ``announcement`` (a destructive action will run), or
    the status of a result (``executed``, ``cancelled``, ``failed``). The key is the action id
    for the first two (as it always was) and ``<action id>:<status>`` for a result.
    """
    key = request.event_id if result is None else f"{request.event_id}:{result.status}"
    body = {"idempotency_key": key, "action_id": request.event_id, "kind": kind, "uid": request.uid,
            "type": request.type, "account": request.account, "region": request.region, "action": request.action,
            "params": request.params, "destructive": is_destructive(request.action), "policy": request.policy,
            "reason": request.reason, "dry_run": dry_run, "not_before": not_before.isoformat() if not_before else None,
            "decision_id": request.decision_id, "summary": _summary(request, kind, dry_run, not_before, result)}
    if result is not None:
        body |= {"detail": result.detail, "principal": result.principal,
                 "aws_request_ids": [call.request_id for call in result.aws_calls]}
    return body


def _summary(request: ActionRequest, kind: str, dry_run: bool, not_before: datetime | None,
             result: ActionResult | None) -> str:
    what = describe(request)
    prefix = "[dry-run] " if dry_run else ""
    if result is not None:
        return f"{prefix}{result.status} ({request.policy}, {request.reason}): {result.detail}"
    if kind == "announcement":
        return f"{prefix}policy {request.policy} will {what} after {not_before:%Y-%m-%d %H:%M UTC}: {request.reason}"
    return f"policy {request.policy} asks to {what}: {request.reason}"

