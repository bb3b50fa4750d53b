"""The Faust worker: thin wiring of topics, the MVCC table and the core.

One agent reads ``elava.observations`` (pages and the scan markers that close them,
in order, per shard), applies them to the partition's store, and publishes change
and drift events keyed by uid. Anything it cannot parse or process goes to the DLQ
with the reason and the original bytes; the agent keeps going.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from elava.events import (
    ActionRequest,
    AttributedChange,
    ChangeEvent,
    DriftEvent,
    Event,
    Observation,
    PolicyDecision,
    ScanMarker,
    TrailEvent,
    cloudevent_headers,
)
from elava.exceptions import SchemaError
from elava.settings import Settings
from elava.signing import keyring_from, signed_headers
from elava.topics import Topics
from streams.batch_send import BatchedSends
from streams.dlq import dead_letter
from streams.faust_auth import broker_credentials
from streams.faust_kv import ChangelogBatcher, FaustPartitionKV
from streams.inputs import parse_observation_message
from streams.process import PartitionProcessor
from streams.siem.policies import policy_severities
from streams.siem.sink import ocsf_copies
from streams.store.versioned import VersionStore
from streams.web import web_options, wire_query_api
from streams.worker_layout import WorkerLayout

log = logging.getLogger("elava.worker")
SOURCE = "elava/worker"
# aiokafka keeps one batch per partition and one request in flight: with Faust's 16 KiB
# default a full batch makes every send wait for the broker's round trip.
PRODUCER_BATCH_BYTES = 1024 * 1024
# How long the consumer's fetch may wait at the broker for data. Faust hard-codes 1500 ms,
# and aiokafka has one fetch in flight per broker that leaves out partitions whose records
# are still queued here: a fetch for the drained partitions then sat at the broker while
# the busy ones waited behind it (half of a steady-state round was idle, measured).
FETCH_MAX_WAIT_MS = 100
RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


def create_app(settings: Settings) -> faust.App:
    kafka = settings.kafka
    app = faust.App(
        settings.worker.app_id,
        broker=[f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(kafka),
        store="rocksdb://", datadir=str(settings.worker.data_dir),
        topic_partitions=kafka.partitions, topic_replication_factor=kafka.replication_factor,
        consumer_auto_offset_reset="earliest", producer_acks=-1, **web_options(settings.worker),
        broker_commit_interval=1.0, table_standby_replicas=0,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        broker_session_timeout=settings.worker.session_timeout.total_seconds(),
        broker_heartbeat_interval=max(1.0, settings.worker.session_timeout.total_seconds() / 10),
    )
    app.transport = _Transport(app.conf.broker_consumer, app)
    wire(app, settings)

    @app.task
    async def freeze_startup_objects() -> None:
        # What imports and Faust's services allocate lives as long as the worker; frozen,
        # it is no longer walked by every full collection (~10% of a round's CPU, measured).
        gc.collect()
        gc.freeze()

    return app


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # no Faust setting; read when it starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with the worker consumer's fetch wait shortened."""

    Consumer = _Consumer


def wire(app: faust.App, settings: Settings) -> None:
    topics = Topics(settings.kafka)
    partitions = settings.kafka.partitions
    # Observations and trail events share shard keys, so a resource's pages, markers
    # and CloudTrail events meet in one partition of the table.
    inputs = app.topic(topics.observations, topics.cloudtrail, partitions=partitions, **RAW)
    outputs = {name: app.topic(getattr(topics, name), partitions=partitions, **RAW)
               for name in ("changes", "attributed_changes", "drift", "policy_decisions", "actions", "ocsf")}
    outputs["cloudtrail_topic"] = topics.cloudtrail
    table = app.Table("mvcc", partitions=partitions, key_type=bytes, value_type=bytes,
                      schema=faust.Schema(**RAW), options=rocksdb_options(settings))

    wire_query_api(app, table)
    sends = BatchedSends(lambda: app.producer._producer)  # the aiokafka producer Faust started
    changelog = ChangelogBatcher(table, sends)
    outputs["sends"] = sends
    outputs["policies"] = load_policies(settings)  # compiled once, used by every message
    outputs["severities"] = policy_severities(settings.policies)  # for the OCSF findings of decisions
    # Dead letters ride with the outputs: headers exactly as given, delivered before the commit.
    outputs["dead_letter"] = lambda key, value, headers: sends.add_keyed(topics.dlq, key, value, headers)
    outputs["layout"] = WorkerLayout(settings.kafka, sends, SOURCE)
    outputs["signer"] = keyring_from(settings.signing).signer()  # action requests are signed (docs/executor.md)

    @app.agent(inputs, name="observe")
    async def observe(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                await handle_message(event.message, table, outputs, changelog)
            finally:
                # Also after a failure: what reached RocksDB must reach the changelog.
                await sends.flush()


def load_policies(settings: Settings) -> Any:
    """The policy engine in its own process (streams/policy/isolated.py), when policies are on."""
    if not settings.policies.enabled:
        return None
    from streams.policy.isolated import IsolatedPolicies

    return IsolatedPolicies(settings.policies)


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """Bounds on each partition's RocksDB memory (Faust's RocksDBOptions names)."""
    mib = 1024 * 1024
    return {"write_buffer_size": settings.worker.rocksdb_write_buffer_mib * mib,
            "max_write_buffer_number": settings.worker.rocksdb_write_buffers,
            "block_cache_size": settings.worker.rocksdb_block_cache_mib * mib}


def parse_message(message: Any, cloudtrail_topic: str) -> Observation | ScanMarker | TrailEvent:
    if message.topic == cloudtrail_topic:
        if not message.key:
            raise SchemaError("empty key: trail events are keyed by the shard key of their resource")
        return TrailEvent.from_bytes(message.value or b"")
    return parse_observation_message(message.key, message.value, message.headers)


async def handle_message(message: Any, table: Any, outputs: dict[str, Any], changelog: ChangelogBatcher) -> None:
    try:
        parsed = parse_message(message, outputs["cloudtrail_topic"])
    except SchemaError as exc:
        await dead_letter(outputs["dead_letter"], message, str(exc), by=SOURCE)
        return
    try:
        store = VersionStore(FaustPartitionKV(table, message.partition, changelog))
        refusal = await outputs["layout"].refusal(parsed, store, message.partition)
        if refusal is not None:
            await dead_letter(outputs["dead_letter"], message, refusal, by=SOURCE)
            return
        produced = PartitionProcessor(store, outputs["policies"]).process(parsed)
    except Exception as exc:  # a poison message must not stop the worker
        log.exception("processing failed; sending to the DLQ")
        reason = f"processing error: {type(exc).__name__}: {exc}"
        await dead_letter(outputs["dead_letter"], message, reason, by=SOURCE)
        return
    for event in produced:
        await send(outputs["sends"], outputs[OUTPUT_OF[type(event)]], _key_of(event), event, outputs["signer"])
    await send_ocsf(outputs, [parsed, *produced])


OUTPUT_OF = {ChangeEvent: "changes", AttributedChange: "attributed_changes", DriftEvent: "drift",
             PolicyDecision: "policy_decisions", ActionRequest: "actions"}


def _key_of(event: Event) -> str:
    return event.change.uid if isinstance(event, AttributedChange) else event.uid


async def send(sends: BatchedSends, topic: Any, key: str, event: Event, signer: Any = None) -> None:
    """One output event, keyed by uid, batched with the others of this input message."""
    value, headers = event.to_bytes(), cloudevent_headers(event, SOURCE)
    if isinstance(event, ActionRequest):  # the executor acts only on what a key holder signed
        headers += signed_headers(value, signer)
    await sends.add_keyed(topic.get_topic_name(), key.encode(), value, headers)


async def send_ocsf(outputs: dict[str, Any], events: list[Event]) -> None:
    """The SIEM's view (streams/siem) of what one message produced, and of a CloudTrail event read."""
    topic = outputs["ocsf"].get_topic_name()
    for event in events:
        for message in ocsf_copies(event, SOURCE, outputs["severities"]):
            await outputs["sends"].add_keyed(topic, message.key, message.value, message.headers)


def run_worker(settings: Settings, loglevel: str = "INFO") -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM."""
    from faust.worker import Worker

    app = create_app(settings)
    worker = Worker(app, loglevel=loglevel, quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG so that every log call turns
    # it: each debug() in aiokafka and Faust (several per message sent) then builds a record.
    worker.spinner = None
    worker.execute_from_commandline()
