"""Carries out the step the plan chose, with the ledger written ahead of every effect.

First the request is vetted (``vetting``): signature, id, policy, action, mode. A
request the executor will not act on gets a ``rejected`` result and nothing else:
no ledger record, no notice, no AWS call.

The order of writes is what makes every action happen once:

1. ``started`` (stage, request) is acknowledged by Kafka before a notification is
   sent or AWS is called;
2. the effect: the notification (idempotency key = action id) or one AWS call;
3. the result is published (acknowledged), its notification sent (key = action id
   and status), then ``done`` (or ``scheduled``) is written.

Right before acting (at once or when the grace period is over) the resource is read
from AWS, the policy is evaluated again on it, and the protect tag and the effector's
own check are applied to that same resource.

A crash after 1 leaves ``started``: the step is resumed through the plan, and an AWS
step first asks AWS whether it is already done. A crash after 3's result but before
``done`` publishes the same result again: same ``event_id``, recognisable downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from elava.events import ActionMode, ActionRequest, ActionResult, ActionStatus, AwsCall, Resource
from elava.settings import ExecutorSettings
from elava.signing import UNSIGNED_ACCEPTED, Verdict
from streams.drivers.executor.journal import KafkaLedger
from streams.executor.exceptions import EffectorError, ExecutorError, NotificationError
from streams.executor.ledger import Ledger, LedgerEntry, LedgerState, Stage
from streams.executor.plan import (
    NOTIFIED_RESULTS,
    Announce,
    Audit,
    Execute,
    Finish,
    Ignore,
    Inspection,
    Notify,
    Step,
    Wait,
    decide,
    describe,
    effective_dry_run,
    notice,
    plan,
    result_for,
    vet_announcement,
)
from streams.executor.vetting import Refusal, policy_still_asks, vet
from streams.policy.engine import PolicyEngine

log = logging.getLogger("elava.executor")


class Effectors(Protocol):
    def supports(self, request: ActionRequest) -> bool: ...

    def inspect(self, request: ActionRequest, resource: Resource | None) -> Inspection: ...

    async def look(self, request: ActionRequest): ...  # -> aws.Look (resource, calls)

    async def apply(self, request: ActionRequest): ...  # -> aws.Applied (detail, calls)

    async def identity(self, account: str | None = None): ...  # -> aws.Principal (arn, account)


class Notices(Protocol):
    async def send(self, notice: dict) -> None: ...


@dataclass(frozen=True)
class Job:
    """A vetted request: the executor's own mode for it, where it lives, who signed it."""

    request: ActionRequest
    partition: int
    mode: ActionMode
    signed_by: str | None = None


@dataclass(frozen=True)
class Checked:
    """The look before acting: the resource as the effector, the protect tag and the policy see it."""

    seen: Inspection
    calls: tuple[AwsCall, ...] = ()


class ActionRunner:
    def __init__(self, settings: ExecutorSettings, engine: PolicyEngine, ledger: Ledger, journal: KafkaLedger,
                 effectors: Effectors, notifier: Notices, publish: Callable[[ActionResult], Awaitable[None]],
                 clock: Callable[[], datetime], principal: str | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.ledger = ledger
        self.journal = journal
        self.effectors = effectors
        self.notifier = notifier
        self.publish = publish
        self.clock = clock
        self.principal = principal  # the executor's own AWS principal (results that touched no account)
        self._principal_of: dict[str, str] = {}

    async def handle(self, request: ActionRequest, partition: int, verdict: Verdict = UNSIGNED_ACCEPTED) -> None:
        if request.event_id != request.content_id():  # checked before the ledger is asked by that id
            await self._reject(request, "event_id is not the id of the request's content", verdict)
            return
        entry = self.ledger.get(request.event_id)
        if entry is not None:
            # A redelivery: carry on with what was vetted and recorded, never with the new copy.
            await self.resume(entry, partition)
            return
        vetted = vet(request, verdict, self.engine)
        if isinstance(vetted, Refusal):
            await self._reject(request, vetted.reason, verdict)
            return
        job = Job(request, partition, vetted.mode, verdict.key_id)
        await self.run(job, None, plan(request, None, self.settings, self.clock(), job.mode))

    async def resume(self, entry: LedgerEntry, partition: int, step: Step | None = None) -> None:
        """An action the ledger knows: vetted again (its policy may have changed), then its next step."""
        if entry.state == "done":
            return
        if entry.state == "started":
            log.warning("action %s was interrupted at %s: resuming", entry.action_id, entry.stage)
        vetted = vet(entry.request, Verdict(entry.signed_by), self.engine)
        if isinstance(vetted, Refusal):
            job = Job(entry.request, partition, entry.request.mode, entry.signed_by)
            await self._call_off(job, entry, vetted.reason)
            return
        job = Job(entry.request, partition, vetted.mode, entry.signed_by)
        await self.run(job, entry, step or plan(entry.request, entry, self.settings, self.clock(), job.mode))

    async def _call_off(self, job: Job, entry: LedgerEntry, reason: str) -> None:
        """No longer allowed: cancelled, unless a crash fell after its AWS call (AWS says which)."""
        if entry.state == "started" and entry.stage == "execute":
            checked = await self._check(job, entry)
            if checked is None:
                return
            if checked.seen.done:
                await self._finish(job, entry, "executed", f"{describe(job.request)}: AWS already shows it done "
                                   "(finished before a restart)", checked.calls)
                return
        await self._finish(job, entry, "cancelled", f"no longer allowed: {reason}")

    async def run(self, job: Job, entry: LedgerEntry | None, step: Step) -> None:
        request = job.request
        if isinstance(step, Ignore | Wait):
            log.debug("action %s: %s", request.event_id, step)
        elif isinstance(step, Finish):
            await self._finish(job, entry, step.status, step.detail)
        elif isinstance(step, Notify):
            await self._notify(job, entry)
        elif not self.effectors.supports(request):
            await self._finish(job, entry, "failed", f"no effector for {request.action} on {request.type}")
        elif isinstance(step, Announce):
            await self._announce(job, entry, step)
        elif isinstance(step, Execute):
            await self._execute(job, entry, step)

    async def _reject(self, request: ActionRequest, reason: str, verdict: Verdict) -> None:
        log.warning("REJECTED action request %s (%s %s, policy %r): %s", request.event_id, request.action,
                    request.uid, request.policy, reason)
        await self.publish(result_for(request, "rejected", reason, dry_run=self.settings.dry_run, now=self.clock(),
                                      audit=Audit(principal=self.principal, signed_by=verdict.key_id)))

    async def _notify(self, job: Job, entry: LedgerEntry | None) -> None:
        await self._record(job, "started", stage="notify")
        try:
            await self.notifier.send(notice(job.request, kind="notice", dry_run=self.settings.dry_run,
                                            not_before=None))
        except NotificationError as exc:
            await self._finish(job, entry, "failed", str(exc))
            return
        await self._finish(job, entry, "notified", f"notified: {job.request.reason}")

    async def _announce(self, job: Job, entry: LedgerEntry | None, step: Announce) -> None:
        dry_run = self.settings.dry_run
        if entry is None:  # a resumed announcement may already be out: it goes on without a new check
            checked = await self._check(job, entry)
            if checked is None:
                return
            vetted = vet_announcement(job.request, checked.seen, self.settings.protect_tag)
            if not vetted.act:
                await self._finish(job, entry, vetted.status, vetted.detail, checked.calls)
                return
            await self._record(job, "started", stage="announce", not_before=step.not_before,
                               announced_dry_run=dry_run)
        else:
            dry_run = entry.announced_dry_run is not False
        await self._announce_and_schedule(job, entry, step, dry_run)

    async def _announce_and_schedule(self, job: Job, entry: LedgerEntry | None, step: Announce,
                                     dry_run: bool) -> None:
        request = job.request
        try:
            await self.notifier.send(notice(request, kind="announcement", dry_run=dry_run, not_before=step.not_before))
        except NotificationError as exc:
            # Never destroy without having told: an announcement that did not go out ends the action.
            await self._finish(job, entry, "failed", f"not announced, so not scheduled: {exc}")
            return
        await self.publish(result_for(request, "scheduled", f"announced; may run after {step.not_before:%Y-%m-%d %H:%M:%S} UTC",
                                      dry_run=dry_run, now=self.clock(), not_before=step.not_before,
                                      audit=self._audit(job)))
        await self._record(job, "scheduled", not_before=step.not_before, announced_dry_run=dry_run)

    async def _execute(self, job: Job, entry: LedgerEntry | None, step: Execute) -> None:
        request = job.request
        dry_run = effective_dry_run(entry, self.settings)
        checked = await self._check(job, entry)
        if checked is None:
            return
        decision = decide(request, checked.seen, mode=job.mode, dry_run=dry_run, scheduled=step.scheduled,
                          reconcile=step.reconcile, protect_tag=self.settings.protect_tag)
        if not decision.act:
            await self._finish(job, entry, decision.status, decision.detail, checked.calls)
            return
        if dry_run or job.mode != "enforce":  # decide() already refuses this; a second lock on the door
            raise ExecutorError(f"refusing to change AWS for {request.event_id} in dry-run or outside enforce mode")
        await self._record(job, "started", stage="execute", not_before=entry.not_before if entry else None,
                           announced_dry_run=entry.announced_dry_run if entry else None)
        try:
            applied = await self.effectors.apply(request)
        except EffectorError as exc:
            await self._finish(job, entry, "failed", str(exc), checked.calls + exc.calls)
            return
        await self._finish(job, entry, "executed", applied.detail, checked.calls + applied.calls)

    async def _check(self, job: Job, entry: LedgerEntry | None) -> Checked | None:
        """Read the resource from AWS and ask the policy again. None: finished (failed, or not that resource)."""
        request = job.request
        try:
            principal = await self.effectors.identity(request.account)
            self._principal_of[request.account] = principal.arn
            look = await self.effectors.look(request)
        except EffectorError as exc:
            await self._finish(job, entry, "failed", f"could not check the resource: {exc}", exc.calls)
            return None
        resource = look.resource
        if resource is not None and resource.uid != request.uid:
            await self._finish(job, entry, "rejected", f"the request names {request.uid}, but with the executor's "
                               f"credentials for account {request.account} it is {resource.uid}", look.calls)
            return None
        return Checked(self._inspection(request, resource), look.calls)

    def _inspection(self, request: ActionRequest, resource: Resource | None) -> Inspection:
        """The effector's check, the protect tag and the policy's answer, all on the one fresh resource."""
        seen = self.effectors.inspect(request, resource)
        if resource is None:
            return seen
        recheck = policy_still_asks(request, resource, self.engine)
        return replace(seen, protected=self.settings.protect_tag in resource.tags, asked=recheck.asked,
                       asked_detail=recheck.detail)

    def _audit(self, job: Job, calls: tuple[AwsCall, ...] = ()) -> Audit:
        principal = self._principal_of.get(job.request.account, self.principal)
        return Audit(principal=principal, calls=calls, signed_by=job.signed_by)

    async def _finish(self, job: Job, entry: LedgerEntry | None, status: ActionStatus, detail: str,
                      calls: tuple[AwsCall, ...] = ()) -> None:
        request = job.request
        dry_run = effective_dry_run(entry, self.settings)
        result = result_for(request, status, detail, dry_run=dry_run, now=self.clock(),
                            not_before=entry.not_before if entry else None, audit=self._audit(job, calls))
        await self.publish(result)
        if status in NOTIFIED_RESULTS:
            await self._tell(request, result, dry_run)
        await self._record(job, "done", result=result)
        log.info("action %s %s: %s", request.event_id, status, detail)

    async def _tell(self, request: ActionRequest, result: ActionResult, dry_run: bool) -> None:
        """What became of an action goes out once per status; a lost message does not undo the action."""
        try:
            await self.notifier.send(notice(request, kind=result.status, dry_run=dry_run, not_before=result.not_before,
                                            result=result))
        except NotificationError as exc:
            log.error("action %s %s, but the notification did not go out: %s", request.event_id, result.status, exc)

    async def _record(self, job: Job, state: LedgerState, *, stage: Stage | None = None,
                      not_before: datetime | None = None, announced_dry_run: bool | None = None,
                      result: ActionResult | None = None) -> None:
        request = job.request
        previous = self.ledger.get(request.event_id)
        if previous is not None and state == "done":  # keep what the announcement promised
            not_before, announced_dry_run = previous.not_before, previous.announced_dry_run
        entry = LedgerEntry(action_id=request.event_id, state=state, stage=stage, request=request,
                            not_before=not_before, announced_dry_run=announced_dry_run, result=result,
                            updated_at=self.clock(), signed_by=job.signed_by)
        await self.journal.write(entry, job.partition)
        self.ledger.put(entry, job.partition)

    async def run_due(self, owned: Callable[[int], bool]) -> None:
        """Scheduled actions whose grace period is over, one at a time."""
        for entry in self.ledger.due(self.clock()):
            partition = self.ledger.partition_of(entry.action_id)
            current = self.ledger.get(entry.action_id)
            if owned(partition) and current is not None and current.state == "scheduled":
                await self.resume(current, partition, Execute(scheduled=True))

    async def resume_started(self, owned: Callable[[int], bool]) -> None:
        """Actions a crash left half-done: carried on through the plan (checked, not repeated)."""
        for entry in self.ledger.in_state("started"):
            partition = self.ledger.partition_of(entry.action_id)
            if owned(partition):
                await self.resume(entry, partition)
