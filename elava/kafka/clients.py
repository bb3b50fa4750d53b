"""Kafka plumbing shared by the collectors, the CLI and the worker (aiokafka)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from elava import telemetry
from elava.events import Event, cloudevent_headers
from elava.exceptions import BrokerUnreachable, ElavaError, KafkaAccessError
from elava.kafka.security import explain_refusal, security_options
from elava.settings import KafkaSettings
from elava.topics import Topics

log = logging.getLogger(__name__)
# How long the first contact with the broker may take. aiokafka's own connect timeout
# is 40 s per server, and Faust and consumers retry forever: a command told a wrong
# address must say so promptly instead.
CONNECT_TIMEOUT = 10.0


@dataclass
class TopicReport:
    created: list[str]
    existing: list[str]
    mismatched: list[str]


async def ensure_topics(settings: KafkaSettings) -> TopicReport:
    """Create every catalog topic that is missing; safe to run any number of times."""
    topics = Topics(settings)
    admin = await start_admin(settings)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, topics.partitions, topics.replication_factor,
                     topic_configs=spec.configs(topics.max_message_bytes))
            for name, spec in topics.all() if name not in existing
        ]
        if wanted:
            await admin.create_topics(wanted)
            await _wait_for_leaders(admin, [t.name for t in wanted])
        present = [name for name, _ in topics.all() if name in existing]
        mismatched = await _partition_mismatches(admin, present, topics.partitions)
        return TopicReport([t.name for t in wanted], present, mismatched)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float = 30.0) -> None:
    """New partitions are not writable until a leader is elected; wait for that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        described = await admin.describe_topics(names)
        if all(p.get("leader", -1) >= 0 for d in described for p in d.get("partitions", [])) and all(
            d.get("partitions") for d in described
        ):
            return
        await asyncio.sleep(0.1)
    log.warning("topics still without leaders after %.0fs: %s", timeout, ", ".join(names))


async def _partition_mismatches(admin: AIOKafkaAdminClient, names: list[str], partitions: int) -> list[str]:
    if not names:
        return []
    described = await admin.describe_topics(names)
    return [d["topic"] for d in described if len(d.get("partitions", [])) != partitions]


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """What every aiokafka client of Elava is built with: the one place for connection settings."""
    return {"bootstrap_servers": settings.bootstrap_servers, **security_options(settings)}


class _ExplainsRefusal:
    """A client whose start() fails with one error that says why the brokers would not have it.

    aiokafka logs each server's failure and raises only "Unable to bootstrap"; here its logs
    are held back while the client starts, and a failed start raises the explanation of
    explain_refusal (a probe: refused credentials, TLS, nothing listening) or, failing that,
    what aiokafka logged: said once, in the error. Logs of a start that worked (one of
    several servers failed) are let through afterwards.
    """

    _elava_kafka: KafkaSettings
    _elava_start_timeout: float | None = None  # None: aiokafka's own timeouts

    async def start(self) -> None:
        with _held_logs() as held:
            try:
                await asyncio.wait_for(super().start(), self._elava_start_timeout)
            except (KafkaConnectionError, TimeoutError) as exc:
                raise await _why_not_started(self._elava_kafka, exc, list(held), self._elava_start_timeout) from exc
        for record in held:
            logging.getLogger(record.name).handle(record)


async def _why_not_started(settings: KafkaSettings, exc: Exception, logged: list[logging.LogRecord],
                           timeout: float | None) -> KafkaAccessError | BrokerUnreachable:
    if isinstance(exc, KafkaConnectionError):
        explained = await explain_refusal(settings)
        if explained is not None:
            return explained
    if logged:
        why = logged[-1].getMessage()
    else:
        why = f"no answer within {timeout:.0f}s" if isinstance(exc, TimeoutError) else str(exc)
    return BrokerUnreachable(f"no Kafka broker answers at {settings.bootstrap_servers} "
                             f"(kafka.bootstrap_servers): {why}")


class Producer(_ExplainsRefusal, AIOKafkaProducer):
    pass


class Consumer(_ExplainsRefusal, AIOKafkaConsumer):
    pass


class Admin(_ExplainsRefusal, AIOKafkaAdminClient):
    pass


def _explaining(client: _ExplainsRefusal, settings: KafkaSettings) -> Any:
    client._elava_kafka = settings
    return client


def new_producer(settings: KafkaSettings, **options: Any) -> Producer:
    # Idempotence keeps per-partition order across retries: a scan marker must
    # never overtake the pages it closes. A record over the topic's limit is refused
    # here, at send, rather than by the broker after the fact.
    defaults = {"enable_idempotence": True, "acks": "all", "linger_ms": 5, "compression_type": None,
                "max_request_size": settings.max_message_bytes}
    return _explaining(Producer(**client_options(settings), **{**defaults, **options}), settings)


# The stages' consumers (policies, fleet patterns) take a batch per poll: asked for at least
# 256 KiB, the broker answers a fetch once that much is there or 100 ms have passed, instead of
# at every record batch the worker appends (aiokafka's default: 1 byte). Fewer fetch requests
# and larger batches: a quarter of the polls and about 40 % less broker CPU for a caught-up
# consumer (tests/bench/bench_stage_fetch.py, docs/benchmarks.md); a lone change waits at most
# 100 ms more for its decision.
STAGE_FETCH: dict[str, int] = {"fetch_min_bytes": 256 * 1024, "fetch_max_wait_ms": 100}


def new_consumer(settings: KafkaSettings, *topics: str, **options: Any) -> Consumer:
    """A consumer (offsets committed by hand unless ``enable_auto_commit`` is passed)."""
    consumer = Consumer(*topics, **client_options(settings), **{"enable_auto_commit": False, **options})
    return _explaining(consumer, settings)


def new_admin(settings: KafkaSettings) -> Admin:
    return _explaining(Admin(**client_options(settings)), settings)


async def start_admin(settings: KafkaSettings, timeout: float = CONNECT_TIMEOUT) -> AIOKafkaAdminClient:
    """A started admin client; BrokerUnreachable or KafkaAccessError (naming the servers and
    why) when the first contact fails or takes longer than ``timeout``."""
    admin = new_admin(settings)
    admin._elava_start_timeout = timeout
    try:
        await admin.start()
    except ElavaError:
        await admin.close()
        raise
    return admin


class _Held(list):
    """Records held back by one hold; once it is over, its tasks log as usual again."""

    open = True


_HOLD: ContextVar[_Held | None] = ContextVar("elava_kafka_held_logs", default=None)


class _HoldFilter(logging.Filter):
    """On aiokafka's loggers: a record logged inside a hold (this task's, or of a task it
    started meanwhile) is kept for the hold instead of being logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        held = _HOLD.get()
        if held is None or not held.open:
            return True
        held.append(record)
        return False


_HOLD_FILTER = _HoldFilter()


@contextmanager
def _held_logs() -> Iterator[_Held]:
    """Hold back what aiokafka logs in this task meanwhile. A context variable, not the
    logger's propagate flag: holds of concurrent tasks or threads never undo each other."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.split(".")[0] == "aiokafka" and isinstance(logger, logging.Logger):
            logger.addFilter(_HOLD_FILTER)  # once per logger (addFilter ignores a repeat)
    held = _Held()
    token = _HOLD.set(held)
    try:
        yield held
    finally:
        held.open = False
        _HOLD.reset(token)


def record_lag(consumer: AIOKafkaConsumer, group: str, batch: dict[Any, list[Any]]) -> None:
    """Telemetry's consumer lag after a poll: from each partition's last record to its end."""
    if not telemetry.metering():
        return
    for tp, records in batch.items():
        highwater = consumer.highwater(tp)
        if records and highwater is not None:
            telemetry.record_lag(group, tp.topic, tp.partition, highwater - records[-1].offset - 1)


async def publish(producer: AIOKafkaProducer, topic: str, key: str, event: Event, source: str) -> asyncio.Future:
    """Enqueue one event; the returned future is its delivery (the broker's acknowledgement)."""
    return await producer.send(topic, value=event.to_bytes(), key=key.encode(),
                               headers=cloudevent_headers(event, source))
