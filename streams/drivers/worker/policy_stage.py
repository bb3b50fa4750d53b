"""`elava policy serve`: attributed changes in, policy decisions and action requests out.

The worker publishes every change and attribution whatever the policies do; this
stage reads ``elava.attributed-changes`` in its own consumer group
(``policies.app_id``), on plain aiokafka. Each poll's records are one batch for the
evaluating child (streams/policy/isolated.py, which times every evaluation out and
replaces itself when it hangs or leaks); everything the batch yields is published and
its delivery awaited, and only then are the offsets committed. What a batch yields goes to
the producer as one record batch per topic-partition (streams/drivers/worker/batch_send.py). A crash redelivers what
was not committed, and a redelivered change gives the same events under the same ids
(at-least-once with idempotent effects: deterministic ids, no Faust exactly_once).

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

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from elava import telemetry
from elava.events import ActionRequest, Event, PolicyDecision, cloudevent_headers
from elava.exceptions import SchemaError
from elava.heap import settle_heap
from elava.kafka.clients import STAGE_FETCH, new_consumer, new_producer, record_lag
from elava.settings import Settings
from elava.signing import Signer, keyring_from, signed_headers
from elava.topics import Topics
from streams.dlq import dead_letter
from streams.drivers.worker.batch_send import BatchedSends
from streams.policy.isolated import IsolatedPolicies
from streams.siem.policies import policy_severities
from streams.siem.sink import ocsf_copies

log = logging.getLogger("elava.policies")
SOURCE = "elava/policies"
FETCH_WAIT_MS = 500
BATCH_RECORDS = 500  # one round trip to the evaluating child per poll of at most this many changes
# Heartbeats run apart from the batches, so a dead stage is noticed within the session timeout.
# A batch on which a broken policy times out again and again can take long, though, and the
# group must not evict a stage that is still working through it (it would be redelivered forever).
MAX_POLL_INTERVAL_MS = 3_600_000
# Whole record batches per topic-partition: with aiokafka's 16 KiB default, each full batch waits
# for the one before it to leave (one batch per partition in the accumulator).
PRODUCER_BATCH_BYTES = 1024 * 1024


async def send_action(sends: BatchedSends, topics: Topics, request: ActionRequest, signer: Signer | None) -> None:
    """The one place an action request is published (keyed by uid), signed: the executor acts
    only on what a holder of the signing key asked for (docs/executor.md)."""
    value = request.to_bytes()
    headers = cloudevent_headers(request, SOURCE) + signed_headers(value, signer)
    await sends.add_keyed(topics.actions, request.uid.encode(), value, headers)


async def send_decision(sends: BatchedSends, topics: Topics, decision: PolicyDecision) -> None:
    await sends.add_keyed(topics.policy_decisions, decision.uid.encode(), decision.to_bytes(),
                          cloudevent_headers(decision, SOURCE))


class PolicyStage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics(settings.kafka)
        self.policies: IsolatedPolicies | None = None
        self.producer: AIOKafkaProducer | None = None
        self.sends = BatchedSends(lambda: self.producer, stop_on_failure=False)  # deliveries awaited here
        self.consumer: AIOKafkaConsumer | None = None
        self.signer = keyring_from(settings.signing).signer()
        self.severities = policy_severities(settings.policies)  # for the OCSF findings of decisions

    async def run(self, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
        # Policies first: one that does not load stops the start-up, before any offset moves.
        self.policies = await asyncio.to_thread(IsolatedPolicies, self.settings.policies)
        if ready is not None:
            ready()
        self.producer = new_producer(self.settings.kafka,
                                     max_batch_size=max(PRODUCER_BATCH_BYTES, self.settings.kafka.max_message_bytes))
        self.consumer = self.new_consumer()
        try:
            await self.producer.start()
            self.consumer.subscribe([self.topics.attributed_changes])
            await self.consumer.start()
            log.info("policy stage: %s -> %s, %s (group %s)", self.topics.attributed_changes,
                     self.topics.policy_decisions, self.topics.actions, self.settings.policies.app_id)
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=BATCH_RECORDS)
                if batch:
                    await self.handle(batch)
                    await self._commit(batch)
                    record_lag(self.consumer, self.settings.policies.app_id, batch)
        finally:
            await self._shutdown()

    def new_consumer(self) -> AIOKafkaConsumer:
        return new_consumer(self.settings.kafka, group_id=self.settings.policies.app_id, auto_offset_reset="earliest",
                            max_poll_interval_ms=MAX_POLL_INTERVAL_MS, **STAGE_FETCH)

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

    async def _commit(self, batch: dict[TopicPartition, list[Any]]) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Another stage took the partitions over: it evaluates them again, under the same ids.
            log.warning("offset commit failed (%s); these changes will be decided again", exc)

    async def _dead_letter(self, record: Any, reason: str) -> None:
        log.warning("dead letter from %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)

        async def send(key: bytes | None, value: bytes | None, headers: list) -> None:
            # Delivered with the batch's other records, before the commit.
            await self.sends.add_keyed(self.topics.dlq, key, value, headers)

        await dead_letter(send, record, reason, by=SOURCE)

    async def _shutdown(self) -> None:
        for client in (self.consumer, self.producer):
            try:
                await client.stop()
            except Exception as exc:  # noqa: BLE001 - shut the rest down regardless
                log.warning("during shutdown: %s", exc)
        if self.policies is not None:
            await asyncio.to_thread(self.policies.close)


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
