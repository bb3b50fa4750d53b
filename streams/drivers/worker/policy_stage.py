"""`elava policy serve`: attributed changes in, policy decisions and action requests out.

The worker publishes every change and attribution whatever the policies do; this
stage reads ``elava.attributed-changes`` in its own consumer group
(``policies.app_id``), on plain aiokafka (streams/drivers/worker/committing_stage.py: what a
poll yields is delivered before its offsets are committed). Each poll's records are one batch
for the evaluating child (streams/policy/isolated.py, which times every evaluation out and
replaces itself when it hangs or leaks).

Run it inside `elava worker` (a supervised child, the default), or apart to scale it:
every stage of one group shares the partitions of the attributed changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition

from elava import telemetry
from elava.events import ActionRequest, Event, PolicyDecision, cloudevent_headers
from elava.exceptions import SchemaError
from elava.heap import settle_heap
from elava.settings import Settings
from elava.signing import Signer, keyring_from, signed_headers
from elava.topics import Topics
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.committing_stage import CommittingStage
from streams.policy.isolated import IsolatedPolicies
from streams.siem.policies import policy_severities
from streams.siem.sink import ocsf_copies

log = logging.getLogger("elava.policies")
SOURCE = "elava/policies"
BATCH_RECORDS = 500  # one round trip to the evaluating child per poll of at most this many changes


async def send_action(sends: BatchedSends, topics: Topics, request: ActionRequest, signer: Signer | None) -> None:
    """The one place an action request is published (keyed by uid), signed: the executor acts
    only on what a holder of the signing key asked for (docs/executor.md)."""
    value = request.to_bytes()
    headers = cloudevent_headers(request, SOURCE) + signed_headers(value, signer)
    await sends.add_keyed(topics.actions, request.uid.encode(), value, headers)


async def send_decision(sends: BatchedSends, topics: Topics, decision: PolicyDecision) -> None:
    await sends.add_keyed(topics.policy_decisions, decision.uid.encode(), decision.to_bytes(),
                          cloudevent_headers(decision, SOURCE))


class PolicyStage(CommittingStage):
    batch_records = BATCH_RECORDS
    source = SOURCE

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, settings.policies.app_id, log)
        self.policies: IsolatedPolicies | None = None
        self.signer = keyring_from(settings.signing).signer()
        self.severities = policy_severities(settings.policies)  # for the OCSF findings of decisions

    async def prepare(self) -> None:
        # Policies first: one that does not load stops the start-up, before any offset moves.
        self.policies = await asyncio.to_thread(IsolatedPolicies, self.settings.policies)

    async def close(self) -> None:
        if self.policies is not None:
            await asyncio.to_thread(self.policies.close)

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Evaluate one poll's changes, publish what they yield, and wait until it is delivered."""
        records = [record for partition_records in batch.values() for record in partition_records]
        started = time.time_ns()  # each change's span covers its batch's evaluation too
        # The records' bytes go to the evaluating child, which parses them (no parse nor pickle of
        # models here). In a thread: the event loop keeps the consumer's heartbeats going meanwhile.
        answers = await asyncio.to_thread(self.policies.decide_each, [record.value or b"" for record in records])
        for record, answer in zip(records, answers, strict=True):
            with telemetry.consumed("elava.policy.decide", record, start_time=started):
                await self._publish_answer(record, answer)
        await asyncio.gather(*await self.sends.flush())  # a failed delivery raises: nothing is committed
        telemetry.record_policy_events(e for answer in answers if not isinstance(answer, SchemaError) for e in answer)

    async def _publish_answer(self, record: Any, answer: list[Event] | SchemaError) -> None:
        """What one change yielded, added to the batch's sends; a bad one to the DLQ."""
        if isinstance(answer, SchemaError):
            await self._dead_letter(record, str(answer))
            return
        for event in answer:
            await self._publish(event)
            for message in ocsf_copies(event, SOURCE, self.severities):  # the SIEM's view (docs/siem.md)
                await self.sends.add_keyed(self.topics.ocsf, message.key, message.value, message.headers)

    async def _publish(self, event: Event) -> None:
        if isinstance(event, ActionRequest):
            await send_action(self.sends, self.topics, event, self.signer)
        else:
            await send_decision(self.sends, self.topics, event)


async def serve(settings: Settings, ready_fd: int | None = None, with_parent: bool = False) -> None:
    """Run the stage until SIGINT/SIGTERM. As a child of `elava worker`: say "ready" on
    ``ready_fd`` once the policies are loaded, and (``with_parent``) stop when the worker is gone."""
    settle_heap()  # this process's own (elava/heap.py): run_until_stopped is also run in tests
    await run_until_stopped(PolicyStage(settings).run, "policy stage", ready_fd, with_parent)


async def run_until_stopped(run: Callable[..., Any], label: str, ready_fd: int | None, with_parent: bool) -> None:
    """Run a stage's ``run(stop, ready)`` until SIGINT/SIGTERM (or, ``with_parent``, until the
    worker that started it is gone), saying "ready" on ``ready_fd`` when it is."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watch = asyncio.create_task(_stop_when_orphaned(os.getppid(), stop, label)) if with_parent else None
    try:
        await run(stop, ready=(lambda: _say_ready(ready_fd)) if ready_fd is not None else None)
    finally:
        if watch is not None:
            watch.cancel()


def _say_ready(fd: int) -> None:
    os.write(fd, b"ready\n")
    os.close(fd)


async def _stop_when_orphaned(parent: int, stop: asyncio.Event, label: str) -> None:
    # A worker killed alone leaves its child to init: the stage must not outlive it unseen.
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("the worker that started this %s is gone; stopping", label)
            stop.set()
        await asyncio.sleep(1.0)
