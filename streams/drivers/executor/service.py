"""`elava executor`: action requests in, action results out, on plain aiokafka.

One consumer in the group ``executor.app_id`` on ``<prefix>.actions``, offsets
committed by hand after each request is finished (or scheduled) in the ledger. When
it gets partitions it reads their ledger partitions to the end, then resumes what a
crash left ``started``; a timer runs scheduled actions whose grace period is over.

Faust is not used here on purpose: a Faust table's changelog write is not awaited,
and the ledger must be in Kafka *before* AWS is called (see ``journal``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from elava import telemetry
from elava.events import ActionRequest, ActionResult, cloudevent_headers, utcnow
from elava.exceptions import SchemaError, SettingsError
from elava.kafka.clients import new_consumer, new_producer, record_lag
from elava.settings import Settings
from elava.signing import Keyring, Verdict, keyring_from
from elava.topics import Topics
from streams.dlq import dead_letter, via_producer
from streams.drivers.executor.aws import AwsEffectors
from streams.drivers.executor.journal import KafkaLedger
from streams.drivers.executor.notify import Notifier, notifier_for
from streams.drivers.executor.runner import ActionRunner, Effectors
from streams.executor.exceptions import EffectorError
from streams.executor.ledger import Ledger
from streams.policy.engine import PolicyEngine
from streams.siem.sink import ocsf_copies

log = logging.getLogger("elava.executor")
SOURCE = "elava/executor"
TICK_MS = 500  # how long a fetch waits: also how often due scheduled actions are looked at


class ExecutorService:
    def __init__(self, settings: Settings, effectors: Effectors | None = None, notifier: Notifier | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.topics = Topics(settings.kafka)
        self.ledger = Ledger()
        self.owned: set[int] = set()
        self.lock = asyncio.Lock()  # one request or rebalance at a time
        self.keyring = startup_keyring(settings)
        # The executor's own policies: what a request names is checked against them, never trusted.
        self.engine = PolicyEngine.load(settings.policies) if settings.policies.enabled else PolicyEngine([])
        self._effectors = effectors or AwsEffectors(settings.providers.aws)
        self._notifier = notifier or notifier_for(settings)
        self._clock = clock
        self._processed: dict[TopicPartition, int] = {}
        self._resume_needed = False
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.runner: ActionRunner | None = None

    async def run(self, stop: asyncio.Event) -> None:
        self.producer = new_producer(self.settings.kafka)
        await self.producer.start()
        journal = KafkaLedger(self.producer, self.settings.kafka, self.topics.executor_ledger)
        self.runner = ActionRunner(self.settings.executor, self.engine, self.ledger, journal, self._effectors,
                                   self._notifier, self._publish, self._clock, await self._principal())
        self.consumer = self._new_consumer()
        self.consumer.subscribe([self.topics.actions], listener=_Rebalance(self, journal))
        await self.consumer.start()
        try:
            while not stop.is_set():
                await self._round()
        finally:
            await self._shutdown()

    def _new_consumer(self) -> AIOKafkaConsumer:
        session_ms = int(self.settings.executor.session_timeout.total_seconds() * 1000)
        return new_consumer(
            self.settings.kafka, group_id=self.settings.executor.app_id, auto_offset_reset="earliest", session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(1000, session_ms // 3), max_poll_records=100)

    async def _round(self) -> None:
        if self._resume_needed:
            async with self.lock:
                self._resume_needed = False
                await self.runner.resume_started(self.owned.__contains__)
        batch = await self.consumer.getmany(timeout_ms=TICK_MS)
        for tp, records in batch.items():
            for record in records:
                await self._one(tp, record)
        await self._commit()
        record_lag(self.consumer, self.settings.executor.app_id, batch)
        async with self.lock:
            await self.runner.run_due(self.owned.__contains__)

    async def _one(self, tp: TopicPartition, record) -> None:
        async with self.lock:
            if tp.partition not in self.owned:  # revoked while this batch was in hand
                return
            with telemetry.consumed("elava.executor.handle", record):
                await self._handle(tp, record)
            self._processed[tp] = record.offset + 1

    async def _handle(self, tp: TopicPartition, record) -> None:
        try:
            request = ActionRequest.from_bytes(record.value)
        except SchemaError as exc:
            await self._dead_letter(record, str(exc))
            return
        verdict = self.keyring.verify(record.value, record.headers)
        telemetry.annotate(span_attributes(request, verdict))
        await self.runner.handle(request, tp.partition, verdict)

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        offsets = {tp: o for tp, o in self._processed.items() if only is None or tp in only}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The ledger already knows these requests: a redelivery is recognised and ignored.
            log.warning("offset commit failed (%s); the requests will be redelivered and ignored", exc)
        for tp in offsets:
            if self._processed.get(tp) == offsets[tp]:
                del self._processed[tp]

    async def _principal(self) -> str | None:
        """Who this executor is in AWS (STS GetCallerIdentity, once): every result names it."""
        try:
            principal = (await self._effectors.identity()).arn
        except EffectorError as exc:
            log.error("could not ask AWS who this executor is (%s): results will not name a principal", exc)
            return None
        log.info("executor acts as %s", principal)
        return principal

    async def _publish(self, result: ActionResult) -> None:
        telemetry.record_result(result.action, result.status)
        await self.producer.send_and_wait(self.topics.action_results, value=result.to_bytes(), key=result.uid.encode(),
                                          headers=cloudevent_headers(result, SOURCE))
        for message in ocsf_copies(result, SOURCE):  # the SIEM's copy (streams/siem)
            await self.producer.send_and_wait(self.topics.ocsf, value=message.value, key=message.key,
                                              headers=message.headers)

    async def _dead_letter(self, record, reason: str) -> None:
        await dead_letter(via_producer(self.producer, self.topics.dlq), record, reason, by=SOURCE)

    async def _shutdown(self) -> None:
        for closing in (self._commit(), self.consumer.stop(), self.producer.stop(), self._effectors_close(),
                        self._notifier.close()):
            try:
                await closing
            except Exception as exc:  # noqa: BLE001 - shut the rest down regardless
                log.warning("during shutdown: %s", exc)

    async def _effectors_close(self) -> None:
        close = getattr(self._effectors, "close", None)
        if close is not None:
            await close()

    async def acquire(self, partitions: set[int], journal: KafkaLedger) -> None:
        async with self.lock:
            self.ledger.drop_partitions(partitions)  # what another executor wrote meanwhile is read afresh
            loaded = await journal.load(partitions, self.ledger)
            self.owned |= partitions
            self._resume_needed = True
        log.info("actions partitions %s: %d ledger entries", sorted(partitions), loaded)

    async def release(self, revoked: set[TopicPartition]) -> None:
        async with self.lock:
            await self._commit(only=revoked)
            partitions = {tp.partition for tp in revoked}
            self.owned -= partitions
            self.ledger.drop_partitions(partitions)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: ExecutorService, journal: KafkaLedger) -> None:
        self.service = service
        self.journal = journal

    async def on_partitions_revoked(self, revoked) -> None:
        await self.service.release(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        await self.service.acquire({tp.partition for tp in assigned}, self.journal)


def span_attributes(request: ActionRequest, verdict: Verdict) -> dict[str, str | bool]:
    """The span's view of a request: its claims only once its signature is checked and accepted,
    so a forged request's uid and action never show up as if they were the pipeline's."""
    attributes: dict[str, str | bool] = {"elava.verified": verdict.ok and verdict.key_id is not None}
    if verdict.ok:
        attributes |= {"elava.action": request.action, "elava.uid": request.uid}
    return attributes


def startup_keyring(settings: Settings) -> Keyring:
    """The keys that verify requests; an enforcing executor without one refuses to start."""
    keyring = keyring_from(settings.signing)
    executor = settings.executor
    if not keyring.required and not executor.dry_run and not executor.allow_unsigned:
        raise SettingsError(
            "invalid setting 'signing.keys': an executor in enforce mode needs a key to verify action requests "
            "(signing.keys or signing.key_files), or executor.allow_unsigned: true to accept unsigned requests")
    if not keyring.required:
        log.warning("no signing key: action requests are accepted unsigned (anyone who can write to the "
                    "actions topic can ask for actions)")
    return keyring


async def run_executor(settings: Settings, stop: asyncio.Event) -> None:
    await ExecutorService(settings).run(stop)
