"""Many accounts, many collectors: the scheduler and the collector group.

The scheduler publishes a `ScanRequest` per account and tier to `scan-requests`,
keyed by account id. Collectors in one consumer group share that topic's
partitions, so they share the accounts: start a second collector and the group
rebalances; stop one and its accounts move to the others. A request's offset is
committed only after its scan is published, so a collector that dies mid-scan
leaves the request to whoever takes the partition over. A collector takes up to
``providers.aws.account_concurrency`` requests at a time and scans them concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from collectors.aws.detail_cache import DetailCache
from collectors.metrics.service import InventoryTap, MetricsSchedule, collect_due_metrics
from collectors.publish import KafkaSink
from collectors.service import AccountScan, detail_cache, discover_accounts, publish_summaries, scan_accounts
from collectors.trail_follow import TrailFollower
from elava.events import ScanRequest, utcnow
from elava.exceptions import SchemaError
from elava.kafka.clients import ensure_topics, new_consumer, new_producer, publish
from elava.kafka.layout_record import check_layout
from elava.settings import Settings, TierSettings
from elava.topics import Topics

log = logging.getLogger(__name__)
SOURCE = "elava/scheduler"


def due_requests(settings: Settings, accounts: list[str], last_run: dict[str, datetime],
                 now: datetime) -> list[ScanRequest]:
    """Requests for every tier whose interval has passed, one per account in the tier."""
    requests = []
    for tier in settings.tiers:
        previous = last_run.get(tier.name)
        if previous is not None and now - previous < tier.interval:
            continue
        last_run[tier.name] = now
        requests.extend(_requests_for(tier, accounts, settings, now))
    return requests


def _requests_for(tier: TierSettings, accounts: list[str], settings: Settings, now: datetime) -> list[ScanRequest]:
    regions = settings.providers.aws.regions
    return [ScanRequest(account=a, regions=regions, types=tier.types, tier=tier.name, requested_at=now)
            for a in accounts if tier.has_account(a)]


async def run_scheduler(settings: Settings, *, once: bool = False, tick: float = 5.0) -> int:
    """Publish scan requests as tiers fall due; returns how many were published."""
    await ensure_topics(settings.kafka)
    producer = new_producer(settings.kafka)
    await producer.start()
    topic, published, last_run = Topics(settings.kafka).scan_requests, 0, {}
    try:
        accounts = await discover_accounts(settings)
        while True:
            for request in due_requests(settings, accounts, last_run, utcnow()):
                await publish(producer, topic, request.account, request, SOURCE)
                published += 1
            await producer.flush()
            if once:
                return published
            await asyncio.sleep(tick)
    finally:
        await producer.stop()


class _Assignments(ConsumerRebalanceListener):
    """Tells the caller which request partitions this collector holds after each rebalance."""

    def __init__(self, callback: Callable[[set[int]], None] | None) -> None:
        self.callback = callback

    async def on_partitions_revoked(self, revoked) -> None:
        return None

    async def on_partitions_assigned(self, assigned) -> None:
        if self.callback is not None:
            self.callback({tp.partition for tp in assigned})


def new_request_consumer(settings: Settings) -> AIOKafkaConsumer:
    return new_consumer(
        settings.kafka, group_id=settings.collector.group_id, auto_offset_reset="earliest",
        max_poll_records=settings.providers.aws.account_concurrency,  # scanned together, committed together
        max_poll_interval_ms=int(settings.collector.max_scan_time.total_seconds() * 1000),
        session_timeout_ms=int(settings.worker.session_timeout.total_seconds() * 1000),
        heartbeat_interval_ms=max(1000, int(settings.worker.session_timeout.total_seconds() * 100)),
    )


async def serve_scan_requests(settings: Settings, stop: asyncio.Event,
                              on_scan: Callable[[AccountScan], None] | None = None,
                              on_assign: Callable[[set[int]], None] | None = None) -> None:
    """Consume scan requests as a member of the collector group until ``stop`` is set."""
    await ensure_topics(settings.kafka)
    await check_layout(settings.kafka)  # before joining the group: another layout's pages help no one
    consumer, producer = new_request_consumer(settings), new_producer(settings.kafka)
    consumer.subscribe([Topics(settings.kafka).scan_requests], listener=_Assignments(on_assign))
    await consumer.start()
    await producer.start()
    sink = KafkaSink(producer, Topics(settings.kafka))
    schedule = MetricsSchedule(settings.analyzer.waste.metrics_interval)
    details = detail_cache(settings)  # kept between requests: unchanged resources reuse their details
    follower = TrailFollower(settings, details)
    await follower.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                continue
            tap = InventoryTap(sink)
            await follower.catch_up()
            scans = await _handle_requests(settings, tap, [r for records in batch.values() for r in records], details)
            await collect_due_metrics(settings, tap, schedule, sink)  # at its own, slower interval
            for tp, records in batch.items():
                await _commit(consumer, tp, records[-1].offset + 1)
            for scan in scans if on_scan is not None else []:
                on_scan(scan)
    finally:
        await follower.stop()
        await consumer.stop()
        await producer.stop()


async def _handle_requests(settings: Settings, sink: KafkaSink | InventoryTap, records: list,
                           details: DetailCache | None = None) -> list[AccountScan]:
    """Scan the accounts of these requests concurrently and publish their summaries."""
    work = []
    for record in records:
        try:
            request = ScanRequest.from_bytes(record.value)
        except SchemaError as exc:
            log.warning("ignoring a malformed scan request at %s[%s]@%s: %s",
                        record.topic, record.partition, record.offset, exc)
            continue
        work.append((request.account, request.regions or None, request.types or None))
    scans = await scan_accounts(settings, sink, work, details)
    await publish_summaries(sink, scans)
    return scans


async def _commit(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
    try:
        await consumer.commit({tp: offset})
    except Exception as exc:  # revoked mid-scan: the new owner repeats the request
        log.info("could not commit %s@%s after a rebalance (%s); it may be scanned again", tp, offset, exc)
