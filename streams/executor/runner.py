"""Carries out the step the plan chose, with the ledger written ahead of every effect.

The order of writes is what makes every action happen once:

1. ``started`` (stage, request) is acknowledged by Kafka before a notification is
   sent or AWS is called;
2. the effect: the notification (idempotency key = action id) or one AWS call;
3. the result is published (acknowledged), then ``done`` (or ``scheduled``) is written.

A crash after 1 leaves ``started``: the step is resumed through the plan, and an AWS
step first asks AWS whether it is already done. A crash after 3's result but before
``done`` publishes the same result again: same ``event_id``, recognisable downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from elava.events import ActionRequest, ActionResult, ActionStatus
from elava.settings import ExecutorSettings
from streams.executor.exceptions import EffectorError, ExecutorError, NotificationError
from streams.executor.journal import KafkaLedger
from streams.executor.ledger import Ledger, LedgerEntry, LedgerState, Stage
from streams.executor.plan import (
    Announce,
    Execute,
    Finish,
    Ignore,
    Inspection,
    Notify,
    Step,
    Wait,
    decide,
    effective_dry_run,
    notice,
    plan,
    result_for,
    vet_announcement,
)

log = logging.getLogger("elava.executor")


class Effectors(Protocol):
    def supports(self, request: ActionRequest) -> bool: ...

    async def inspect(self, request: ActionRequest, protect_tag: str) -> Inspection: ...

    async def apply(self, request: ActionRequest) -> str: ...


class Notices(Protocol):
    async def send(self, notice: dict) -> None: ...


class ActionRunner:
    def __init__(self, settings: ExecutorSettings, ledger: Ledger, journal: KafkaLedger, effectors: Effectors,
                 notifier: Notices, publish: Callable[[ActionResult], Awaitable[None]],
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.ledger = ledger
        self.journal = journal
        self.effectors = effectors
        self.notifier = notifier
        self.publish = publish
        self.clock = clock

    async def handle(self, request: ActionRequest, partition: int) -> None:
        entry = self.ledger.get(request.event_id)
        if entry is not None and entry.state == "started":
            log.warning("action %s was interrupted at %s: resuming", request.event_id, entry.stage)
        step = plan(request, entry, self.settings, self.clock())
        await self.run(request, entry, step, partition)

    async def run(self, request: ActionRequest, entry: LedgerEntry | None, step: Step, partition: int) -> None:
        if isinstance(step, Ignore | Wait):
            log.debug("action %s: %s", request.event_id, step)
        elif isinstance(step, Finish):
            await self._finish(request, entry, partition, step.status, step.detail)
        elif isinstance(step, Notify):
            await self._notify(request, entry, partition)
        elif not self.effectors.supports(request):
            await self._finish(request, entry, partition, "failed", f"no effector for {request.action} on {request.type}")
        elif isinstance(step, Announce):
            await self._announce(request, entry, step, partition)
        elif isinstance(step, Execute):
            await self._execute(request, entry, step, partition)

    async def _notify(self, request: ActionRequest, entry: LedgerEntry | None, partition: int) -> None:
        await self._record(request, partition, "started", stage="notify")
        try:
            await self.notifier.send(notice(request, kind="notice", dry_run=self.settings.dry_run, not_before=None))
        except NotificationError as exc:
            await self._finish(request, entry, partition, "failed", str(exc))
            return
        await self._finish(request, entry, partition, "notified", f"notified: {request.reason}")

    async def _announce(self, request: ActionRequest, entry: LedgerEntry | None, step: Announce,
                        partition: int) -> None:
        dry_run = self.settings.dry_run
        if entry is None:  # a resumed announcement may already be out: it goes on without a new check
            try:
                vetted = vet_announcement(request, await self.effectors.inspect(request, self.settings.protect_tag),
                                          self.settings.protect_tag)
            except EffectorError as exc:
                await self._finish(request, entry, partition, "failed", f"could not check the resource: {exc}")
                return
            if not vetted.act:
                await self._finish(request, entry, partition, vetted.status, vetted.detail)
                return
            await self._record(request, partition, "started", stage="announce", not_before=step.not_before,
                               announced_dry_run=dry_run)
        else:
            dry_run = entry.announced_dry_run is not False
        await self._announce_and_schedule(request, entry, step, partition, dry_run)

    async def _announce_and_schedule(self, request: ActionRequest, entry: LedgerEntry | None, step: Announce,
                                     partition: int, dry_run: bool) -> None:
        try:
            await self.notifier.send(notice(request, kind="announcement", dry_run=dry_run, not_before=step.not_before))
        except NotificationError as exc:
            # Never destroy without having told: an announcement that did not go out ends the action.
            await self._finish(request, entry, partition, "failed", f"not announced, so not scheduled: {exc}")
            return
        await self.publish(result_for(request, "scheduled", f"announced; may run after {step.not_before:%Y-%m-%d %H:%M:%S} UTC",
                                      dry_run=dry_run, now=self.clock(), not_before=step.not_before))
        await self._record(request, partition, "scheduled", not_before=step.not_before, announced_dry_run=dry_run)

    async def _execute(self, request: ActionRequest, entry: LedgerEntry | None, step: Execute, partition: int) -> None:
        dry_run = effective_dry_run(entry, self.settings)
        try:
            seen = await self.effectors.inspect(request, self.settings.protect_tag)
        except EffectorError as exc:
            await self._finish(request, entry, partition, "failed", f"could not check the resource: {exc}")
            return
        decision = decide(request, seen, dry_run=dry_run, scheduled=step.scheduled, reconcile=step.reconcile,
                          protect_tag=self.settings.protect_tag)
        if not decision.act:
            await self._finish(request, entry, partition, decision.status, decision.detail)
            return
        if dry_run or request.mode != "enforce":  # decide() already refuses this; a second lock on the door
            raise ExecutorError(f"refusing to change AWS for {request.event_id} in dry-run or outside enforce mode")
        await self._record(request, partition, "started", stage="execute",
                           not_before=entry.not_before if entry else None,
                           announced_dry_run=entry.announced_dry_run if entry else None)
        try:
            detail = await self.effectors.apply(request)
        except EffectorError as exc:
            await self._finish(request, entry, partition, "failed", str(exc))
            return
        await self._finish(request, entry, partition, "executed", detail)

    async def _finish(self, request: ActionRequest, entry: LedgerEntry | None, partition: int,
                      status: ActionStatus, detail: str) -> None:
        result = result_for(request, status, detail, dry_run=effective_dry_run(entry, self.settings),
                            now=self.clock(), not_before=entry.not_before if entry else None)
        await self.publish(result)
        await self._record(request, partition, "done", result=result)
        log.info("action %s %s: %s", request.event_id, status, detail)

    async def _record(self, request: ActionRequest, partition: int, state: LedgerState, *,
                      stage: Stage | None = None, not_before: datetime | None = None,
                      announced_dry_run: bool | None = None, result: ActionResult | None = None) -> None:
        previous = self.ledger.get(request.event_id)
        if previous is not None and state == "done":  # keep what the announcement promised
            not_before, announced_dry_run = previous.not_before, previous.announced_dry_run
        entry = LedgerEntry(action_id=request.event_id, state=state, stage=stage, request=request,
                            not_before=not_before, announced_dry_run=announced_dry_run, result=result,
                            updated_at=self.clock())
        await self.journal.write(entry, partition)
        self.ledger.put(entry, partition)

    async def run_due(self, owned: Callable[[int], bool]) -> None:
        """Scheduled actions whose grace period is over, one at a time."""
        for entry in self.ledger.due(self.clock()):
            partition = self.ledger.partition_of(entry.action_id)
            current = self.ledger.get(entry.action_id)
            if owned(partition) and current is not None and current.state == "scheduled":
                await self.run(current.request, current, Execute(scheduled=True), partition)

    async def resume_started(self, owned: Callable[[int], bool]) -> None:
        """Actions a crash left half-done: carried on through the plan (checked, not repeated)."""
        for entry in self.ledger.in_state("started"):
            partition = self.ledger.partition_of(entry.action_id)
            if owned(partition):
                await self.handle(entry.request, partition)
