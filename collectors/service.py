"""Running collectors: which accounts, which types, and where the output goes.

`elava collect` publishes to Kafka; `elava scan` hands the same output to the
embedded pipeline. Both scan through `scan_once`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import aioboto3

from collectors.aws import registry
from collectors.aws.scanner import ScanReport, scan_account
from collectors.aws.session import plain_session, session_for_account
from collectors.sink import ScanSink
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


async def scan_once(settings: Settings, sink: ScanSink, type_names: list[str] | None = None) -> list[AccountScan]:
    """Scan every configured account (or the caller's own) once, in turn."""
    aws = settings.providers.aws
    base = plain_session(region=aws.regions[0])
    accounts = aws.accounts or [await caller_account(base, aws.endpoint_url)]
    types = registry.select(type_names)
    scans = []
    for account in accounts:
        session = await session_for_account(aws, account, base=base)
        started = utcnow()
        report = await scan_account(
            session, account, aws.regions, types, sink, buckets=settings.kafka.shard_buckets,
            page_size=settings.kafka.page_size, endpoint_url=aws.endpoint_url,
            scan_id=f"{account}-{uuid.uuid4().hex[:12]}", max_concurrency=aws.max_concurrency)
        scans.append(AccountScan(report, started, utcnow()))
    return scans


def summary_markers(scan: AccountScan) -> list[ScanMarker]:
    """One marker per account/region/type for people and other systems (no ids)."""
    return [
        ScanMarker(scan_id=scan.report.scan_id, account=scan.report.account, region=result.region,
                   type=result.type, shard="*", status=result.status, error_class=result.error_class,
                   error=result.error, count=result.count, started_at=scan.started_at,
                   finished_at=scan.finished_at)
        for result in scan.report.results.values()
    ]


async def run_collector(settings: Settings, interval: float = 0.0, on_scan=None) -> bool:
    """Scan and publish to Kafka, once or every ``interval`` seconds; True if the last scan was partial."""
    from collectors.publish import KafkaSink
    from elava.kafka import ensure_topics, new_producer
    from elava.topics import Topics

    await ensure_topics(settings.kafka)
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        sink = KafkaSink(producer, Topics(settings.kafka))
        while True:
            scans = await scan_once(settings, sink)
            for scan in scans:
                for marker in summary_markers(scan):
                    await sink.summary(marker)
            await producer.flush()
            if on_scan is not None:
                on_scan(scans)
            if interval <= 0:
                return any(scan.report.partial for scan in scans)
            await asyncio.sleep(interval)
    finally:
        await producer.stop()
