"""Running the CloudTrail sources of the settings: `elava trail collect`.

LookupEvents is read per account (through its role, as the resource collectors do)
and region; log files per account/region from the trail's bucket, and the SQS queue
once, both with the collector's own credentials (bucket and queue usually live in a
central logging account). One failing account/region is reported and the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aioboto3

from collectors.aws.calls import client_config
from collectors.aws.errors import describe_error
from collectors.aws.session import plain_session, session_for_account
from collectors.cloudtrail.checkpoints import Checkpoints, KafkaCheckpoints
from collectors.cloudtrail.eventbridge import SqsPoller
from collectors.cloudtrail.lookup import LookupPoller
from collectors.cloudtrail.s3logs import S3LogPoller
from collectors.cloudtrail.sink import KafkaTrailSink, TrailSink
from collectors.service import discover_accounts
from elava.kafka.clients import ensure_topics, new_producer
from elava.kafka.layout_record import check_layout
from elava.settings import Settings
from elava.topics import Topics

log = logging.getLogger(__name__)
_SQS_REGION = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")


@dataclass
class TrailReport:
    published: dict[str, int] = field(default_factory=dict)  # source/account/region -> events
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, count: int) -> None:
        self.published[name] = self.published.get(name, 0) + count


@dataclass
class Poll:
    name: str  # the poller's checkpoint key: source/account/region
    run: Callable[[], Awaitable[int]]


class _Clients:
    """Opens clients for the run and closes them at its end."""

    def __init__(self, settings: Settings, stack: AsyncExitStack) -> None:
        self.aws = settings.providers.aws
        self.stack = stack
        self.config = client_config(self.aws.max_concurrency, self.aws.endpoint_url)

    async def open(self, session: aioboto3.Session, service: str, region: str) -> Any:
        return await self.stack.enter_async_context(session.client(
            service, region_name=region, endpoint_url=self.aws.endpoint_url, config=self.config))


async def lookup_polls(settings: Settings, clients: _Clients, sink: TrailSink, checkpoints: Checkpoints,
                       accounts: list[str]) -> list[Poll]:
    polls = []
    for account in accounts:
        session = await session_for_account(clients.aws, account, session_name="elava-cloudtrail")
        for region in clients.aws.regions:
            poller = LookupPoller(await clients.open(session, "cloudtrail", region), account, region, sink,
                                  checkpoints, lookback=settings.cloudtrail.lookback,
                                  late_delivery=settings.cloudtrail.lookup_late_delivery)
            polls.append(Poll(poller.key, poller.poll))
    return polls


async def s3_polls(settings: Settings, clients: _Clients, sink: TrailSink, checkpoints: Checkpoints,
                   accounts: list[str]) -> list[Poll]:
    trail = settings.cloudtrail
    client = await clients.open(plain_session(), "s3", clients.aws.regions[0])
    pollers = [S3LogPoller(client, trail.s3_bucket or "", account, region, sink, checkpoints,
                           prefix=trail.s3_prefix, organization_id=trail.s3_organization_id,
                           late_delivery=trail.s3_late_delivery, lookback=trail.lookback)
               for account in accounts for region in clients.aws.regions]
    return [Poll(poller.key, poller.poll) for poller in pollers]


async def sqs_poller(settings: Settings, clients: _Clients, sink: TrailSink) -> SqsPoller:
    url = settings.cloudtrail.sqs_queue_url or ""
    match = _SQS_REGION.match(url)
    client = await clients.open(plain_session(), "sqs", match.group(1) if match else clients.aws.regions[0])
    return SqsPoller(client, url, sink, wait_seconds=int(settings.cloudtrail.sqs_wait.total_seconds()))


async def poll_all(polls: list[Poll], report: TrailReport, concurrency: int) -> None:
    """Every poller once; each has its own rate limit, so they may run side by side."""
    gate = asyncio.Semaphore(concurrency)

    async def one(poll: Poll) -> None:
        async with gate:
            try:
                report.add(poll.name, await poll.run())
                report.failures.pop(poll.name, None)
            except Exception as exc:  # one account/region must not stop the others
                report.failures[poll.name] = describe_error(exc)
                log.warning("CloudTrail poll %s failed: %s", poll.name, report.failures[poll.name])

    await asyncio.gather(*(one(poll) for poll in polls))


async def _poll_every(polls: list[Poll], report: TrailReport, settings: Settings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await poll_all(polls, report, settings.providers.aws.max_concurrency)
        try:
            await asyncio.wait_for(stop.wait(), settings.cloudtrail.poll_interval.total_seconds())
        except TimeoutError:
            pass


async def _receive_until(sqs: SqsPoller, report: TrailReport, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await sqs.receive_once()
            report.published["eventbridge"] = sqs.stats.published
        except Exception as exc:
            report.failures["eventbridge"] = describe_error(exc)
            log.warning("SQS receive failed: %s", report.failures["eventbridge"])
            await asyncio.sleep(5)


async def collect_trail(settings: Settings, sink: TrailSink, checkpoints: Checkpoints, *, once: bool,
                        stop: asyncio.Event | None = None) -> TrailReport:
    """Run the configured sources: once (SQS drained), or until ``stop`` is set."""
    sources, report = settings.cloudtrail.sources, TrailReport()
    async with AsyncExitStack() as stack:
        clients = _Clients(settings, stack)
        accounts = await discover_accounts(settings) if {"lookup", "s3"} & set(sources) else []
        polls = await lookup_polls(settings, clients, sink, checkpoints, accounts) if "lookup" in sources else []
        if "s3" in sources:
            polls += await s3_polls(settings, clients, sink, checkpoints, accounts)
        sqs = await sqs_poller(settings, clients, sink) if "eventbridge" in sources else None
        if once:
            await poll_all(polls, report, settings.providers.aws.max_concurrency)
            if sqs is not None:
                report.published["eventbridge"] = (await sqs.drain()).published
            return report
        stop = stop or asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(_poll_every(polls, report, settings, stop))
            if sqs is not None:
                group.create_task(_receive_until(sqs, report, stop))
    return report


async def run_trail_collector(settings: Settings, *, once: bool = False,
                              stop: asyncio.Event | None = None) -> TrailReport:
    """`collect_trail` onto Kafka, with checkpoints from (and to) the checkpoints topic."""
    await ensure_topics(settings.kafka)
    await check_layout(settings.kafka)  # trail events are keyed by shard: another layout misses the store
    topics = Topics(settings.kafka)
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        checkpoints = await KafkaCheckpoints(producer, topics.checkpoints).load(
            settings.kafka, settings.kafka.partitions)
        sink = KafkaTrailSink(producer, topics.cloudtrail, settings.kafka.shard_buckets)
        return await collect_trail(settings, sink, checkpoints, once=once, stop=stop)
    finally:
        await producer.stop()
