"""The Faust worker: thin wiring of topics, the MVCC table and the core.

One agent reads ``elava.observations`` (pages and the scan markers that close them,
in order, per shard), applies them to the partition's store, and publishes change
and drift events keyed by uid. Anything it cannot parse or process goes to the DLQ
with the reason and the original bytes; the agent keeps going. Policies are not
evaluated here: the policy stage (streams/policy_stage.py) reads the attributed changes.
"""

from __future__ import annotations

import gc
import logging
import socket
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from elava.events import (
    AttributedChange,
    ChangeEvent,
    DriftEvent,
    Event,
    Observation,
    ScanMarker,
    TrailEvent,
    cloudevent_headers,
)
from elava.exceptions import ElavaError, SchemaError
from elava.parts import Part
from elava.settings import Settings
from elava.topics import Topics
from streams.batch_send import BatchedSends
from streams.chunks import PartAssembler
from streams.dlq import dead_letter
from streams.faust_auth import broker_credentials
from streams.faust_kv import ChangelogBatcher, FaustPartitionKV
from streams.inputs import parse_observation_message
from streams.process import PartitionProcessor
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
    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last folder
    app = faust.App(
        settings.worker.app_id,
        broker=[f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(kafka),
        store="rocksdb://", datadir=str(settings.worker.data_dir),
        topic_partitions=kafka.partitions, topic_replication_factor=kafka.replication_factor,
        consumer_auto_offset_reset="earliest", producer_acks=-1, **web_options(settings.worker),
        broker_commit_interval=1.0, table_standby_replicas=settings.worker.standby_replicas,
        # A part of a chunked page is kept in the table: its changelog record (or its
        # dead letter) is as large as the collectors' messages.
        producer_max_batch_size=max(PRODUCER_BATCH_BYTES, kafka.max_message_bytes),
        producer_max_request_size=max(PRODUCER_BATCH_BYTES, kafka.max_message_bytes),
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
               for name in ("changes", "attributed_changes", "drift", "ocsf")}
    outputs["cloudtrail_topic"] = topics.cloudtrail
    table = app.Table("mvcc", partitions=partitions, key_type=bytes, value_type=bytes,
                      schema=faust.Schema(**RAW), options=rocksdb_options(settings))

    wire_query_api(app, table, settings)
    sends = BatchedSends(lambda: app.producer._producer)  # the aiokafka producer Faust started
    changelog = ChangelogBatcher(table, sends)
    outputs["sends"] = sends
    # The worker maps no policy decisions to OCSF (the policy stage does): no severities needed.
    outputs["severities"] = {}
    # Dead letters ride with the outputs: headers exactly as given, delivered before the commit.
    outputs["dead_letter"] = lambda key, value, headers: sends.add_keyed(topics.dlq, key, value, headers)
    outputs["layout"] = WorkerLayout(settings.kafka, sends, SOURCE)

    @app.agent(inputs, name="observe")
    async def observe(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                await handle_message(event.message, table, outputs, changelog)
            finally:
                # Also after a failure: what reached RocksDB must reach the changelog.
                await sends.flush()


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """Bounds on each partition's RocksDB memory (Faust's RocksDBOptions names)."""
    mib = 1024 * 1024
    return {"write_buffer_size": settings.worker.rocksdb_write_buffer_mib * mib,
            "max_write_buffer_number": settings.worker.rocksdb_write_buffers,
            "block_cache_size": settings.worker.rocksdb_block_cache_mib * mib}


def parse_message(message: Any, cloudtrail_topic: str) -> Observation | ScanMarker | TrailEvent | Part:
    if message.topic == cloudtrail_topic:
        if not message.key:
            raise SchemaError("empty key: trail events are keyed by the shard key of their resource")
        return TrailEvent.from_bytes(message.value or b"")
    return parse_observation_message(message.key, message.value, message.headers)


async def handle_message(message: Any, table: Any, outputs: dict[str, Any], changelog: ChangelogBatcher) -> None:
    kv = FaustPartitionKV(table, message.partition, changelog)
    try:
        parsed = PartAssembler(kv).complete(parse_message(message, outputs["cloudtrail_topic"]))
    except SchemaError as exc:
        await dead_letter(outputs["dead_letter"], message, str(exc), by=SOURCE)
        return
    if parsed is None:
        return  # one part of a chunked page or marker: handled whole when its last part arrives
    try:
        store = VersionStore(kv)
        refusal = await outputs["layout"].refusal(parsed, store, message.partition)
        if refusal is not None:
            await dead_letter(outputs["dead_letter"], message, refusal, by=SOURCE)
            return
        produced = PartitionProcessor(store).process(parsed)
    except Exception as exc:  # a poison message must not stop the worker
        log.exception("processing failed; sending to the DLQ")
        reason = f"processing error: {type(exc).__name__}: {exc}"
        await dead_letter(outputs["dead_letter"], message, reason, by=SOURCE)
        return
    for event in produced:
        await send(outputs["sends"], outputs[OUTPUT_OF[type(event)]], _key_of(event), event)
    await send_ocsf(outputs, [parsed, *produced])


OUTPUT_OF = {ChangeEvent: "changes", AttributedChange: "attributed_changes", DriftEvent: "drift"}


def _key_of(event: Event) -> str:
    return event.change.uid if isinstance(event, AttributedChange) else event.uid


async def send(sends: BatchedSends, topic: Any, key: str, event: Event) -> None:
    """One output event, keyed by uid, batched with the others of this input message."""
    await sends.add_keyed(topic.get_topic_name(), key.encode(), event.to_bytes(), cloudevent_headers(event, SOURCE))


async def send_ocsf(outputs: dict[str, Any], events: list[Event]) -> None:
    """The SIEM's view (streams/siem) of what one message produced, and of a CloudTrail event read."""
    topic = outputs["ocsf"].get_topic_name()
    for event in events:
        for message in ocsf_copies(event, SOURCE, outputs["severities"]):
            await outputs["sends"].add_keyed(topic, message.key, message.value, message.headers)


def run_worker(settings: Settings, loglevel: str = "INFO") -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM."""
    from faust.worker import Worker

    check_web_port(settings)
    app = create_app(settings)
    worker = Worker(app, loglevel=loglevel, quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG so that every log call turns
    # it: each debug() in aiokafka and Faust (several per message sent) then builds a record.
    worker.spinner = None
    worker.execute_from_commandline()


def check_web_port(settings: Settings) -> None:
    """Faust fails deep in its start-up, with pages of log, if the port is taken: say it first."""
    host, port = settings.worker.web_host, settings.worker.web_port
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ElavaError(f"cannot serve the query API on {host}:{port} (worker.web_port): {exc.strerror}; "
                             "is another worker running here? Set worker.web_port (0 turns the API off)") from exc
