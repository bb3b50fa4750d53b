"""The Faust worker: thin wiring of topics, the MVCC table and the core.

One agent reads ``elava.observations`` (pages and the scan markers that close them,
in order, per shard), applies them to the partition's store, and publishes change
and drift events keyed by uid. Anything it cannot parse or process goes to the DLQ
with the reason and the original bytes; the agent keeps going. Between two messages of
a partition it takes a bounded step of retention on that partition's store. Policies
are not evaluated here: the policy stage (streams/drivers/worker/policy_stage.py) reads the attributed
changes. Faust's private names are used through streams/drivers/worker/faust_adapter.py only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import socket
from dataclasses import dataclass, field
from typing import Any

import faust

from elava import telemetry
from elava.events import MetricsObservation, Observation, ScanMarker, TrailEvent, utcnow
from elava.exceptions import ElavaError, SchemaError
from elava.heap import settle_heap
from elava.kafka.group_offsets import GroupOffsets
from elava.parts import Part
from elava.settings import Settings, WorkerSettings
from elava.topics import Topics
from streams.chunks import PartAssembler
from streams.dlq import dead_letter
from streams.drivers.worker.batch_send import BatchedSends
from streams.drivers.worker.faust_adapter import (
    Transport,
    aiokafka_producer,
    partition_dbs,
    use_rocksdb_options,
)
from streams.drivers.worker.faust_auth import broker_credentials
from streams.drivers.worker.faust_kv import ChangelogBatcher, FaustPartitionKV, MvccTable
from streams.drivers.worker.input_gaps import InputGaps, applied, record_applied
from streams.drivers.worker.sinks import WorkerSinks
from streams.drivers.worker.stall_watch import wire_stall_watch
from streams.drivers.worker.web import web_options, wire_query_api
from streams.drivers.worker.worker_layout import WorkerLayout
from streams.drivers.worker.worker_rocksdb import SharedMemoryRocksDB
from streams.inputs import read_observation_message
from streams.pages import RawPage
from streams.process import PartitionProcessor, Produced
from streams.store.retention import RetentionPacer, enforce_retention
from streams.store.versioned import VersionStore
from streams.waste_stage import waste_findings

log = logging.getLogger("elava.worker")
SOURCE = "elava/worker"
# aiokafka keeps one batch per partition and one request in flight: with Faust's 16 KiB
# default a full batch makes every send wait for the broker's round trip.
PRODUCER_BATCH_BYTES = 1024 * 1024
# How often Faust commits the input handled, after flushing the producer. Caught up, the
# group's committed offsets trail what was handled by up to this long: the lag a monitor
# sees and what a restart replays follow it. A commit is one flush and one offset request.
COMMIT_INTERVAL_S = 0.2
# How long the producer waits to fill a batch before sending it (Faust's default is 0: a
# request per few records). Changelog records and outputs then reach the broker in fewer,
# larger requests: less CPU for the broker and the worker alike (docs/benchmarks.md).
PRODUCER_LINGER_S = 0.005
# Input messages read ahead of the agent. A message is a page (up to kafka.max_message_bytes,
# ~440 KB in the benchmark) and Faust reads ahead 4,096 by default: a first scan then held
# most of a round in memory, so the worker's memory grew with the estate (measured).
INPUT_BUFFER_MESSAGES = 32
# The longest wait between two attempts at an input message the worker could not handle.
MAX_RETRY_WAIT_S = 30.0
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
        broker_commit_interval=COMMIT_INTERVAL_S, table_standby_replicas=settings.worker.standby_replicas,
        # A part of a chunked page is kept in the table: its changelog record (or its
        # dead letter) is as large as the collectors' messages.
        producer_linger=PRODUCER_LINGER_S,
        producer_max_batch_size=max(PRODUCER_BATCH_BYTES, kafka.max_message_bytes),
        producer_max_request_size=max(PRODUCER_BATCH_BYTES, kafka.max_message_bytes),
        broker_session_timeout=settings.worker.session_timeout.total_seconds(),
        broker_heartbeat_interval=max(1.0, settings.worker.session_timeout.total_seconds() / 10),
        # Static membership: a worker restarted after a crash takes its partitions back at
        # once, instead of rejoining beside its dead self and rebalancing twice.
        consumer_group_instance_id=group_instance_id(settings.worker),
        Table=MvccTable,  # restores what the changelog leaves out (streams/store/changelog.py)
    )
    app.transport = Transport(app.conf.broker_consumer, app)
    wire(app, settings)

    @app.task
    async def freeze_startup_objects() -> None:
        # What imports and Faust's services allocate lives as long as the worker; frozen,
        # it is no longer walked by every full collection (~10% of a round's CPU, measured).
        settle_heap()

    return app


def group_instance_id(worker: WorkerSettings) -> str:
    """The worker's static member name: worker.instance_id, or this host's name and a digest
    of data_dir (two workers of one host cannot share a data_dir, RocksDB locks it)."""
    if worker.instance_id:
        return worker.instance_id
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:200] or "worker"
    place = hashlib.sha256(str(worker.data_dir.resolve()).encode()).hexdigest()[:12]
    return f"{host}-{place}"


@dataclass
class Worker:
    """What handling one input message needs: the table, where outputs go, and the settings."""

    settings: Settings
    table: Any
    changelog: ChangelogBatcher
    sinks: WorkerSinks
    layout: WorkerLayout
    cloudtrail_topic: str
    gaps: InputGaps
    retention: RetentionPacer = field(default_factory=RetentionPacer)


def wire(app: faust.App, settings: Settings) -> None:
    topics = Topics(settings.kafka)
    partitions = settings.kafka.partitions
    # Observations and trail events share shard keys, so a resource's pages, markers
    # and CloudTrail events meet in one partition of the table.
    # Built as app.topic builds it, which drops ``maxsize`` (faust-streaming 0.15.3).
    inputs = app.conf.Topic(app, topics=[topics.observations, topics.cloudtrail], partitions=partitions,
                            maxsize=INPUT_BUFFER_MESSAGES, **RAW)
    table = app.Table("mvcc", partitions=partitions, key_type=bytes, value_type=bytes,
                      schema=faust.Schema(**RAW))
    use_rocksdb_options(table, rocksdb_options(settings))

    wire_query_api(app, table, settings)
    sends = BatchedSends(lambda: aiokafka_producer(app))
    group = GroupOffsets(settings.kafka, settings.worker.app_id)  # one client for the gap guard and the stall watch
    worker = Worker(settings, table, ChangelogBatcher(table, sends), WorkerSinks.on(topics, sends, SOURCE),
                    WorkerLayout(settings.kafka, sends, SOURCE), topics.cloudtrail,
                    InputGaps.on(settings.kafka, group))

    telemetry.watch_store(lambda: store_sizes(table))

    @app.on_partitions_assigned.connect
    async def start_from_commits(app: faust.App, assigned: set, **kwargs: Any) -> None:
        worker.gaps.reassigned()

    @app.agent(inputs, name="observe")
    async def observe(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await handle_until_done(event.message, worker)
            if telemetry.metering():
                record_lag(app, settings.worker.app_id, event.message)

    wire_stall_watch(app, table, settings.kafka, group, {topics.observations, topics.cloudtrail},
                     settings.worker.stall_timeout.total_seconds())


def record_lag(app: faust.App, group: str, message: Any) -> None:
    """How far this partition's end is from the message just handled (Faust's highwater)."""
    behind = app.consumer.highwater(message.tp) - message.offset - 1
    telemetry.record_lag(group, message.topic, message.partition, behind)


def store_sizes(table: Any) -> list[tuple[int, int, int]]:
    """(partition, bytes on disk and in memtables, estimated keys) of each partition held here."""
    sizes = []
    for partition, db in partition_dbs(table).items():
        size = (db.property_int_value("rocksdb.total-sst-files-size") or 0) + (
            db.property_int_value("rocksdb.cur-size-all-mem-tables") or 0)
        sizes.append((partition, size, db.property_int_value("rocksdb.estimate-num-keys") or 0))
    return sizes


def rocksdb_options(settings: Settings) -> SharedMemoryRocksDB:
    """One RocksDB memory budget for every partition of the worker's table."""
    worker = settings.worker
    return SharedMemoryRocksDB(worker.rocksdb_memory_mib, worker.rocksdb_write_buffer_mib,
                               worker.rocksdb_write_buffers)


def parse_message(message: Any, cloudtrail_topic: str) -> RawPage | Observation | ScanMarker | TrailEvent | Part:
    if message.topic == cloudtrail_topic:
        if not message.key:
            raise SchemaError("empty key: trail events are keyed by the shard key of their resource")
        return TrailEvent.from_bytes(message.value or b"")
    return read_observation_message(message.key, message.value, message.headers)  # pages: RawPage


async def handle_until_done(message: Any, worker: Worker, first_wait: float = 0.5) -> None:
    """Handle ``message``; on a failure (a send the broker did not take, a store error) try the
    same message again, waiting longer each time, rather than leave it behind.

    What cannot be parsed or processed goes to the DLQ inside ``handle_message``; what fails
    here is the worker's footing. An agent that raised would be restarted by Faust past the
    message, which it acknowledges: the input-gap guard would apply it with the partition's
    next message, but the last one of a partition would wait for a message that may not come.
    A retry replays what the failed attempt stored, as after a crash.
    """
    wait = first_wait
    while True:
        try:
            try:
                with telemetry.consumed("elava.worker.process", message):
                    await handle_message(message, worker)
            finally:
                # Also after a failure: what reached RocksDB must reach the changelog.
                await worker.changelog.sends.flush()
            return
        except Exception:
            log.exception("%s[%d] offset %d not handled; trying it again in %.1f s", message.topic,
                          message.partition, message.offset, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, MAX_RETRY_WAIT_S)


async def handle_message(message: Any, worker: Worker) -> None:
    """One input message, after any of its partition's that Faust left out (streams/drivers/worker/input_gaps.py)."""
    kv = FaustPartitionKV(worker.table, message.partition, worker.changelog)
    try:
        last = applied(kv, message.topic, message.partition)
        async for missed in worker.gaps.missed_before(message, last):
            await _handle_one(missed, kv, worker)  # applied, or replayed if the store applied it before
            if last is None or missed.offset > last:
                record_applied(kv, missed)
            kv.flush()  # in RocksDB before its changelog records leave
            await worker.changelog.sends.flush()  # outputs leave as they are made: a gap may be a backlog
        await _handle_one(message, kv, worker)
        if last is None or message.offset > last:
            record_applied(kv, message)
    finally:
        kv.flush()  # also after a failure: what was applied stays, as the changelog records say
    worker.gaps.handled(message)


async def _handle_one(message: Any, kv: FaustPartitionKV, worker: Worker) -> None:
    try:
        parsed = PartAssembler(kv).complete(parse_message(message, worker.cloudtrail_topic))
    except SchemaError as exc:
        await dead_letter(worker.sinks.dead_letters, message, str(exc), by=SOURCE)
        return
    if parsed is not None:  # else one part of a chunked page or marker: handled whole with its last part
        await _apply(message, parsed, VersionStore(kv), worker)
    if worker.retention.due(message.partition):
        retain(VersionStore(kv), worker.settings)


async def _apply(message: Any, parsed: RawPage | Observation | ScanMarker | TrailEvent, store: VersionStore,
                 worker: Worker) -> None:
    read = parsed.header if isinstance(parsed, RawPage) else parsed  # a page's header says what it is
    try:
        refusal = await worker.layout.refusal(read, store, message.partition)
        if refusal is not None:
            await dead_letter(worker.sinks.dead_letters, message, refusal, by=SOURCE)
            return
        analyzer = worker.settings.analyzer
        produced = (Produced() if isinstance(parsed, MetricsObservation)
                    else PartitionProcessor(store, analyzer.drift, analyzer.patterns, drift_here=False).process(parsed))
        produced.waste.extend(waste_findings(store, analyzer.waste, read))
        telemetry.record_page(produced, parsed)
    except SchemaError as exc:  # a changed resource of a page is invalid: validated before any write
        await dead_letter(worker.sinks.dead_letters, message, str(exc), by=SOURCE)
        return
    except Exception as exc:  # a poison message must not stop the worker
        log.exception("processing failed; sending to the DLQ")
        reason = f"processing error: {type(exc).__name__}: {exc}"
        await dead_letter(worker.sinks.dead_letters, message, reason, by=SOURCE)
        return
    await worker.sinks.publish(read, produced)


def retain(store: VersionStore, settings: Settings) -> None:
    """One bounded step of retention on a partition's store, between two input messages."""
    try:
        report = enforce_retention(store, settings.storage.retention, utcnow(), budget=RetentionPacer.BUDGET)
    except Exception:  # retention is housekeeping: it must never stop the worker
        log.exception("retention step failed; tried again later")
        return
    if (report.versions_dropped or report.resources_removed or report.evidence_dropped or report.parts_dropped
            or report.waste_dropped):
        log.info("retention: %s", report)


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
