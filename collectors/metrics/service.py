"""The collectors' metrics part: after a scan, per account/region whose metrics are due.

The scan's own output is tapped (`InventoryTap`): the resources of the types whose
rules need metrics or usage counts, and which types were scanned completely. Then, at
most every ``analyzer.waste.metrics_interval`` per account/region (`MetricsSchedule`),
the declared CloudWatch metrics of those resources are fetched with GetMetricData in
as few calls as its limits allow, usage is counted, and the samples are published per
shard (`MetricsObservation`) on the observations topic, where the worker keeps them
beside the resources. No listing of its own: what the scan saw is what is measured.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import aioboto3

from collectors.aws.calls import DEFAULT_BACKOFF, AwsCaller, Backoff, BoundClient, ClientPool
from collectors.aws.errors import SESSION_ERRORS, classify_error, describe_error
from collectors.aws.session import plain_session, session_for_account
from collectors.metrics.plan import Learnt, Query, batches, queries_for, summarise, window_bounds
from collectors.metrics.usage import count_usage, types_needed
from collectors.sink import Delivery
from elava.catalogue import registry
from elava.events import MetricSample, MetricsObservation, Observation, Resource, ScanMarker, utcnow
from elava.settings import Settings
from elava.sharding import GLOBAL_REGION

log = logging.getLogger(__name__)
SAMPLES_PER_PAGE = 500


class MetricsSink(Protocol):
    async def metrics(self, obs: MetricsObservation) -> Delivery: ...


def measured_types() -> set[str]:
    """Types the metrics part keeps from a scan: declared metrics, or usage counts."""
    with_metrics = {rt.name for rt in registry.all_types() if rt.usage is not None and rt.usage.metrics}
    return with_metrics | types_needed()


@dataclass
class InventoryTap:
    """A ScanSink in front of the real one: passes everything on, keeps what metrics need."""

    inner: object
    keep: set[str] = field(default_factory=measured_types)
    resources: dict[tuple[str, str], list[tuple[Resource, str]]] = field(default_factory=dict)
    failed: set[tuple[str, str, str]] = field(default_factory=set)
    scanned: set[tuple[str, str, str]] = field(default_factory=set)

    async def page(self, obs: Observation) -> Delivery:
        if obs.type in self.keep:
            for resource in obs.resources:
                self.resources.setdefault((obs.account, resource.region), []).append((resource, obs.shard))
        return await self.inner.page(obs)

    async def marker(self, marker: ScanMarker) -> Delivery:
        (self.scanned if marker.status == "ok" else self.failed).add((marker.account, marker.region, marker.type))
        return await self.inner.marker(marker)

    def __getattr__(self, name: str):  # summaries, metrics, ...: the inner sink's
        return getattr(self.inner, name)

    def complete(self, account: str, region: str) -> set[str]:
        """Types scanned completely (every shard's marker ok) in this account/region."""
        return {t for (a, r, t) in self.scanned if (a, r) == (account, region) and (a, r, t) not in self.failed}

    def scopes(self) -> list[tuple[str, str]]:
        return sorted({(a, r) for (a, r, _) in self.scanned | self.failed} | set(self.resources))


@dataclass
class MetricsSchedule:
    """When each account/region/type was last measured (by a tier that scanned it, or any scan)."""

    interval: timedelta
    last: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    def due(self, account: str, region: str, type_name: str, now: datetime) -> bool:
        last = self.last.get((account, region, type_name))
        return last is None or now - last >= self.interval

    def done(self, account: str, region: str, type_name: str, now: datetime) -> None:
        self.last[(account, region, type_name)] = now


@dataclass
class MetricsReport:
    """What one fetch cost and gave, per account/region (for operators and the benchmark)."""

    calls: int = 0
    queries: int = 0
    resources: int = 0
    samples: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fetch:
    """One account/region's metric fetch: where, over which window, with what."""

    account: str
    region: str
    start: datetime
    end: datetime
    buckets: int

    @property
    def window(self) -> timedelta:
        return self.end - self.start


async def fetch_metrics(bound: BoundClient, caller: AwsCaller, queries: list[Query], fetch: Fetch,
                        learnt: Learnt, report: MetricsReport) -> None:
    """Every query answered, batch by batch; a batch that fails (throttled to the end) is missing."""
    for batch in batches(queries, fetch.window):
        answers: dict[str, dict] = {}
        calls_before = caller.calls
        try:
            params = {"MetricDataQueries": [q.request(fetch.window) for q in batch], "StartTime": fetch.start,
                      "EndTime": fetch.end, "ScanBy": "TimestampAscending"}
            async for page in caller.pages(bound, "get_metric_data", params):
                for result in page.get("MetricDataResults") or []:
                    _merge(answers, result)
        except Exception as exc:  # throttled to the end, denied, ...: these metrics are missing, nothing more
            why = classify_error(exc)
            report.failures.append(f"{fetch.account}/{fetch.region}: {why}: {describe_error(exc)}")
            for query in batch:
                learnt.lack(query.uid, query.metric.name, why)
            continue
        finally:
            report.calls += caller.calls - calls_before
        for query in batch:
            summarise(query, answers.get(query.id), fetch.window, learnt)


def _merge(answers: dict[str, dict], result: dict) -> None:
    """Pages of one answer carry the same query id: values join, the worst status stands."""
    known = answers.setdefault(result["Id"], {"StatusCode": result.get("StatusCode"), "Values": []})
    known["Values"].extend(result.get("Values") or [])
    if result.get("StatusCode") != "Complete":
        known["StatusCode"] = result.get("StatusCode")


def pages_of(fetch: Fetch, learnt: Learnt, shards: dict[str, tuple[str, str]], collection: str) -> list[MetricsObservation]:
    """Samples grouped by shard (the shard their resource was published under), in pages."""
    by_shard: dict[str, list[MetricSample]] = {}
    for uid in learnt.uids():
        shard, _ = shards[uid]
        by_shard.setdefault(shard, []).append(MetricSample(uid=uid, values=learnt.values.get(uid, {}),
                                                           missing=learnt.missing.get(uid, {})))
    pages = []
    for shard, samples in sorted(by_shard.items()):
        type_name = shards[samples[0].uid][1]
        for number, start in enumerate(range(0, len(samples), SAMPLES_PER_PAGE)):
            pages.append(MetricsObservation(
                collection_id=collection, account=fetch.account, region=fetch.region, type=type_name, shard=shard,
                page=number, window_start=fetch.start, observed_at=fetch.end, shard_buckets=fetch.buckets,
                samples=samples[start:start + SAMPLES_PER_PAGE]))
    return pages


async def measure_region(session: aioboto3.Session, fetch: Fetch, resources: list[tuple[Resource, str]],
                         complete: set[str], sink: MetricsSink, *, endpoint_url: str | None,
                         calls_per_second: float = 0, backoff: Backoff = DEFAULT_BACKOFF,
                         seed: int | None = None, measure: set[str] | None = None) -> MetricsReport:
    """Fetch, count and publish one account/region's samples (of the ``measure`` types, all by
    default; usage is counted over all ``resources``); delivered when this returns."""
    measured = [(r, shard) for r, shard in resources if measure is None or r.type in measure]
    report, learnt = MetricsReport(resources=len(measured)), Learnt()
    queries = queries_for(resource for resource, _ in measured)
    report.queries = len(queries)
    if queries:
        async with AsyncExitStack() as stack:
            pool = ClientPool(session, stack, max_concurrency=4, endpoint_url=endpoint_url,
                              calls_per_second=calls_per_second)
            bound = await pool.get("cloudwatch", fetch.region)
            await fetch_metrics(bound, AwsCaller(backoff, random.Random(seed)), queries, fetch, learnt, report)
    count_usage((resource for resource, _ in resources), complete, learnt, measure)
    shards = {resource.uid: (shard, resource.type) for resource, shard in resources}
    collection = f"{fetch.account}-metrics-{uuid.uuid4().hex[:12]}"
    deliveries: list[Awaitable[object]] = []
    for page in pages_of(fetch, learnt, shards, collection):
        delivery = await sink.metrics(page)
        if delivery is not None:
            deliveries.append(delivery)
        report.samples += len(page.samples)
    for delivery in deliveries:
        await delivery
    return report


def fetch_for(account: str, region: str, now: datetime, window: timedelta, buckets: int) -> Fetch:
    start, end = window_bounds(now, window)
    return Fetch(account, region, start, end, buckets)


async def collect_due_metrics(settings: Settings, tap: InventoryTap, schedule: MetricsSchedule,
                              sink: MetricsSink, now: datetime | None = None) -> dict[tuple[str, str], MetricsReport]:
    """Metrics of every account/region the scan covered whose metrics are due; one that fails
    (its role, its CloudWatch) is reported and the others are measured."""
    aws, waste = settings.providers.aws, settings.analyzer.waste
    now = now or utcnow()
    reports: dict[tuple[str, str], MetricsReport] = {}
    if not waste.enabled:
        return reports
    for account, region in tap.scopes():
        kept = tap.resources.get((account, region), [])
        due = {r.type for r, _ in kept if schedule.due(account, region, r.type, now)}
        if region == GLOBAL_REGION or not due:
            continue
        fetch = fetch_for(account, region, now, waste.metrics_window, settings.kafka.shard_buckets)
        try:
            session = await session_for_account(aws, account, base=plain_session(region=aws.regions[0]))
            reports[(account, region)] = await measure_region(
                session, fetch, kept, tap.complete(account, region), sink, endpoint_url=aws.endpoint_url,
                calls_per_second=aws.calls_per_second, measure=due)
        except SESSION_ERRORS as exc:
            log.warning("metrics of %s %s not fetched (%s): %s", account, region, classify_error(exc),
                        describe_error(exc))
            continue
        for type_name in due:
            schedule.done(account, region, type_name, now)
    return reports
    for account, region in tap.scopes():
        if region == GLOBAL_REGION or not schedule.due(account, region, now):
            continue
        fetch = fetch_for(account, region, now, waste.metrics_window, settings.kafka.shard_buckets)
        try:
            session = await session_for_account(aws, account, base=plain_session(region=aws.regions[0]))
            reports[(account, region)] = await measure_region(
                session, fetch, tap.resources.get((account, region), []), tap.complete(account, region), sink,
                endpoint_url=aws.endpoint_url, calls_per_second=aws.calls_per_second)
        except SESSION_ERRORS as exc:
            log.warning("metrics of %s %s not fetched (%s): %s", account, region, classify_error(exc),
                        describe_error(exc))
            continue
        schedule.done(account, region, now)
    return reports
