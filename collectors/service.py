"""Running collectors: which accounts, which types, and where the output goes.

`elava collect` publishes to Kafka; `elava scan` hands the same output to the
embedded pipeline. Both scan through `scan_once`: accounts concurrently, at most
``providers.aws.account_concurrency`` at a time, each failing alone — an account whose
role cannot be assumed, whose STS does not answer or whose credentials are refused
gets failed markers for all its scopes, and the others are scanned as usual.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import aioboto3

from collectors.aws.batching import page_budget
from collectors.aws.detail_cache import DetailCache
from collectors.aws.errors import SESSION_ERRORS
from collectors.aws.scanner import ScanReport, fail_account, scan_account
from collectors.aws.session import plain_session, session_for_account
from collectors.exceptions import DeliveryFailed
from collectors.redaction_key import redactor_for
from collectors.sink import ScanSink
from elava.catalogue import registry
from elava.events import ScanMarker, utcnow
from elava.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class AccountScan:
    report: ScanReport
    started_at: datetime
    finished_at: datetime


async def caller_account(session: aioboto3.Session, endpoint_url: str | None) -> str:
    async with session.client("sts", endpoint_url=endpoint_url) as sts:
        return (await sts.get_caller_identity())["Account"]


async def discover_accounts(settings: Settings) -> list[str]:
    """Accounts from settings, else AWS Organizations (if enabled), else the caller's own."""
    aws = settings.providers.aws
    if aws.accounts:
        return list(aws.accounts)
    base = plain_session(region=aws.regions[0])
    if aws.organizations:
        return await organization_accounts(base, aws.endpoint_url)
    return [await caller_account(base, aws.endpoint_url)]


async def organization_accounts(session: aioboto3.Session, endpoint_url: str | None) -> list[str]:
    accounts = []
    async with session.client("organizations", endpoint_url=endpoint_url) as org:
        async for page in org.get_paginator("list_accounts").paginate():
            accounts.extend(a["Id"] for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE")
    return accounts


def detail_cache(settings: Settings) -> DetailCache:
    """The details a long-running collector keeps between its scans (`collectors.aws.detail_cache`)."""
    return DetailCache(settings.providers.aws.detail_refresh_interval)


async def scan_account_once(settings: Settings, account: str, sink: ScanSink, regions: list[str] | None = None,
                            type_names: list[str] | None = None, details: DetailCache | None = None) -> AccountScan:
    """One scan of one account (through its role, if one is configured); ``details`` kept across scans."""
    aws, kafka = settings.providers.aws, settings.kafka
    regions, types = regions or aws.regions, registry.select(type_names)
    scan_id, started = f"{account}-{uuid.uuid4().hex[:12]}", utcnow()
    try:
        session = await session_for_account(aws, account, base=plain_session(region=aws.regions[0]))
    except SESSION_ERRORS as exc:
        report = await fail_account(account, regions, types, sink, exc, buckets=kafka.shard_buckets, scan_id=scan_id)
        return AccountScan(report, started, utcnow())
    report = await scan_account(
        session, account, regions, types, sink, buckets=kafka.shard_buckets, page_size=kafka.page_size,
        page_bytes=page_budget(kafka.max_message_bytes), endpoint_url=aws.endpoint_url, scan_id=scan_id,
        redactor=redactor_for(settings.collector), max_concurrency=aws.max_concurrency,
        calls_per_second=aws.calls_per_second, details=details)
    return AccountScan(report, started, utcnow())


async def scan_once(settings: Settings, sink: ScanSink, type_names: list[str] | None = None,
                    accounts: list[str] | None = None, details: DetailCache | None = None) -> list[AccountScan]:
    """Scan every account (or the given ones) once, concurrently; results in account order."""
    accounts = accounts if accounts is not None else await discover_accounts(settings)
    return await scan_accounts(settings, sink, [(account, None, type_names) for account in accounts], details)


async def scan_accounts(settings: Settings, sink: ScanSink, work: list[tuple[str, list[str] | None, list[str] | None]],
                        details: DetailCache | None = None) -> list[AccountScan]:
    """(account, regions, types) scans, at most ``account_concurrency`` at a time."""
    slots = asyncio.Semaphore(settings.providers.aws.account_concurrency)

    async def one(account: str, regions: list[str] | None, types: list[str] | None) -> AccountScan:
        async with slots:
            return await scan_account_once(settings, account, sink, regions, types, details)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(*item)) for item in work]
    except BaseExceptionGroup as failed:  # a broken sink (or a bug): the caller sees it as itself
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


def summary_markers(scan: AccountScan) -> list[ScanMarker]:
    """One marker per account/region/type for people and other systems (no ids)."""
    return [
        ScanMarker(scan_id=scan.report.scan_id, account=scan.report.account, region=result.region,
                   type=result.type, shard="*", status=result.status, error_class=result.error_class,
                   error=result.error, count=result.count, started_at=scan.started_at,
                   finished_at=scan.finished_at)
        for result in scan.report.results.values()
    ]


async def publish_summaries(sink, scans: list[AccountScan]) -> bool:
    """Summary markers of ``scans`` to ``scan-markers``; False if they were not delivered."""
    try:
        await sink.summaries([marker for scan in scans for marker in summary_markers(scan)])
    except DeliveryFailed as exc:
        log.warning("summary markers %s", exc)
        return False
    return True


async def run_collector(settings: Settings, interval: float = 0.0, on_scan=None,
                        type_names: list[str] | None = None) -> bool:
    """Scan and publish to Kafka, once or every ``interval`` seconds; True if the last scan was partial."""
    from collectors.metrics.service import InventoryTap, MetricsSchedule, collect_due_metrics
    from collectors.publish import KafkaSink
    from collectors.trail_follow import TrailFollower
    from elava.kafka.clients import ensure_topics, new_producer
    from elava.kafka.layout_record import check_layout
    from elava.topics import Topics

    await ensure_topics(settings.kafka)
    await check_layout(settings.kafka)  # pages of another layout would land where the store cannot use them
    producer = new_producer(settings.kafka)
    await producer.start()
    details = detail_cache(settings) if interval > 0 else None  # a single scan has nothing to reuse
    follower = TrailFollower(settings, details) if details is not None else None
    try:
        if follower is not None:
            await follower.start()
        sink = KafkaSink(producer, Topics(settings.kafka))
        schedule = MetricsSchedule(settings.analyzer.waste.metrics_interval)
        while True:
            tap = InventoryTap(sink)
            if follower is not None:
                await follower.catch_up()  # what CloudTrail named since the last scan is asked again
            scans = await scan_once(settings, tap, type_names, details=details)
            summarised = await publish_summaries(sink, scans)
            await collect_due_metrics(settings, tap, schedule, sink)  # at its own, slower interval
            if on_scan is not None:
                on_scan(scans)
            if interval <= 0:
                return not summarised or any(scan.report.partial for scan in scans)
            await asyncio.sleep(interval)
    finally:
        if follower is not None:
            await follower.stop()
        await producer.stop()
