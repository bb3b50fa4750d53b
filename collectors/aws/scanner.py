"""Scanning one AWS account: every (scope region, type) pair, concurrently.

get -> transform -> publish, generically for every `ResourceType`:

1. page through the type's listing (retried, bounded, counted: `calls.py`), under its
   parent listing if it has one (`listing.py`);
2. per page of items: locate, describe, drop the absent, run the other detail calls
   concurrently, one per item or batched (`details.py`), build `Resource`s (`build.py`);
   tags in bulk where the type allows it (`bulk_tags.py`), and details reused for items
   whose listed view did not change when a `DetailCache` is given (`complete.py`);
3. redact secrets (`collectors.redact`, with the installation's key) — here, once, for every type;
4. hand pages and markers to the sink, grouped by shard (`batching.py`).

A type scan that fails (after retries) ends in failed markers for all its shards and
never stops the other types or regions; so does one whose pages were not delivered
(``delivery-failed``). Only a sink that breaks (raises) ends the whole scan.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field

import aioboto3

from collectors.aws.batching import ScanScope, ShardBatcher, page_budget
from collectors.aws.build import build_resource
from collectors.aws.bulk_tags import BulkTags
from collectors.aws.calls import DEFAULT_BACKOFF, AwsCaller, Backoff, ClientPool
from collectors.aws.complete import Savings, complete_entries
from collectors.aws.detail_cache import DetailCache, ScopeCache
from collectors.aws.details import Entry, account_values
from collectors.aws.errors import classify_error, describe_error
from collectors.aws.listing import listed_pages
from collectors.exceptions import SinkError
from collectors.redact import Redactor
from collectors.sink import ScanSink
from elava import telemetry
from elava.catalogue.arns import partition_for
from elava.catalogue.types import BULK_TAGS_SERVICE, GLOBAL_CLIENT_REGION, ResourceType
from elava.events import ErrorClass, Resource, ScanStatus, utcnow
from elava.settings import KafkaSettings
from elava.sharding import GLOBAL_REGION

__all__ = ["ScanReport", "ScanSink", "TypeScanResult", "complete_entries", "fail_account", "scan_account"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TypeScanResult:
    """How the scan of one (scope region, type) ended."""

    region: str
    type: str
    status: ScanStatus
    count: int = 0
    calls: int = 0
    error_class: ErrorClass | None = None
    error: str | None = None


@dataclass
class ScanReport:
    account: str
    scan_id: str
    results: dict[tuple[str, str], TypeScanResult] = field(default_factory=dict)
    shared_calls: int = 0  # calls made for several types at once (tags in bulk)

    @property
    def partial(self) -> bool:
        """True when any (region, type) failed: its deletions must not be inferred."""
        return any(result.status != "ok" for result in self.results.values())

    @property
    def calls(self) -> int:
        return sum(result.calls for result in self.results.values()) + self.shared_calls

    def calls_by_type(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for result in self.results.values():
            totals[result.type] = totals.get(result.type, 0) + result.calls
        return totals

    def failures(self) -> list[TypeScanResult]:
        return [result for result in self.results.values() if result.status != "ok"]


@dataclass(frozen=True)
class _AccountScan:
    """What every type scan of one account shares."""

    account: str
    scan_id: str
    sink: ScanSink
    clients: ClientPool
    buckets: int
    page_size: int
    page_bytes: int
    redactor: Redactor
    backoff: Backoff
    rng: random.Random
    bulk: BulkTags
    details: DetailCache | None


async def scan_account(
    session: aioboto3.Session, account: str, regions: list[str], types: list[ResourceType],
    sink: ScanSink, *, buckets: int, page_size: int, endpoint_url: str | None, scan_id: str,
    redactor: Redactor, page_bytes: int | None = None, max_concurrency: int = 8, calls_per_second: float = 0,
    backoff: Backoff = DEFAULT_BACKOFF, seed: int | None = None, details: DetailCache | None = None,
) -> ScanReport:
    """Scan ``types`` in ``regions`` of one account (global types once), feeding ``sink``.

    ``redactor`` replaces secrets before anything reaches the sink. ``page_bytes``
    bounds a page's JSON (default: under the default topic limit); ``calls_per_second``
    bounds AWS calls per region (0: unlimited); ``backoff`` is our retry on throttling
    on top of botocore's adaptive retries; ``seed`` makes its jitter reproducible (tests);
    ``details`` (kept by the caller across scans) lets unchanged resources reuse their details.
    """
    report = ScanReport(account=account, scan_id=scan_id)
    async with AsyncExitStack() as stack:
        rng = random.Random(seed)
        clients = ClientPool(session, stack, max_concurrency=max_concurrency, endpoint_url=endpoint_url,
                             calls_per_second=calls_per_second)
        ctx = _AccountScan(
            account=account, scan_id=scan_id, sink=sink, buckets=buckets, page_size=page_size, redactor=redactor,
            page_bytes=page_bytes or page_budget(KafkaSettings().max_message_bytes), clients=clients,
            backoff=backoff, rng=rng, bulk=BulkTags(clients, AwsCaller(backoff, rng), types), details=details,
        )
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(_scan_type(ctx, rt, scope)) for rt, scope in _plan(types, regions)]
        except BaseExceptionGroup as failed:
            raise _first_sink_error(failed) from None
        finally:
            ctx.bulk.close()
    report.shared_calls = ctx.bulk.calls
    telemetry.record_aws(BULK_TAGS_SERVICE, ctx.bulk.calls, ctx.bulk.throttles)
    for task in tasks:
        result = task.result()
        report.results[(result.region, result.type)] = result
    return report


async def fail_account(account: str, regions: list[str], types: list[ResourceType], sink: ScanSink, exc: BaseException,
                       *, buckets: int, scan_id: str) -> ScanReport:
    """An account that cannot be scanned at all (its role cannot be assumed, STS does not
    answer, its credentials are refused): failed markers for every scope and type it has."""
    error_class, error = classify_error(exc), f"account {account}: {describe_error(exc)}"
    log.warning("cannot scan account %s (%s): %s", account, error_class, error)
    report = ScanReport(account=account, scan_id=scan_id)
    started = utcnow()
    for rt, scope in _plan(types, regions):
        batch = ShardBatcher(sink, ScanScope(scan_id, account, scope, rt.name, buckets, started),
                             page_size=1, page_bytes=1)
        await batch.finish_failed(error_class, error, utcnow())
        report.results[(scope, rt.name)] = TypeScanResult(scope, rt.name, "failed", 0, 0, error_class, error)
    return report


def _plan(types: list[ResourceType], regions: list[str]) -> list[tuple[ResourceType, str]]:
    """(type, scope region) pairs: a global type once, a regional one per region."""
    return [(rt, scope) for rt in types for scope in ([GLOBAL_REGION] if rt.global_service else regions)]


def _first_sink_error(failed: BaseExceptionGroup) -> BaseException:
    # _scan_type turns every AWS failure into failed markers; what escapes is the
    # sink's failure (or a bug), and the caller should see it as itself.
    sink_errors = failed.subgroup(SinkError)
    first = (sink_errors or failed).exceptions[0]
    return _first_sink_error(first) if isinstance(first, BaseExceptionGroup) else first


def client_region(scope: str) -> str:
    return GLOBAL_CLIENT_REGION if scope == GLOBAL_REGION else scope


async def _scan_type(ctx: _AccountScan, rt: ResourceType, scope: str) -> TypeScanResult:
    """One type in one scope, in its own span: every page it publishes carries that span's trace."""
    caller, started = AwsCaller(ctx.backoff, ctx.rng), time.monotonic()
    with telemetry.span("elava.collector.scan", {"elava.account": ctx.account, "elava.region": scope,
                                                 "elava.type": rt.name, "elava.scan_id": ctx.scan_id}):
        result = await _scan_type_with(ctx, caller, rt, scope)
        telemetry.annotate({"elava.status": result.status, "elava.resources": result.count})
    telemetry.record_scan(rt.name, result.status, time.monotonic() - started)
    telemetry.record_aws(rt.service, caller.calls, caller.throttles)
    return result


async def _scan_type_with(ctx: _AccountScan, caller: AwsCaller, rt: ResourceType, scope: str) -> TypeScanResult:
    batch = ShardBatcher(ctx.sink, ScanScope(ctx.scan_id, ctx.account, scope, rt.name, ctx.buckets, utcnow()),
                         page_size=ctx.page_size, page_bytes=ctx.page_bytes)
    cached = ctx.details.scope(ctx.account, scope, rt.name) if ctx.details is not None else None
    try:
        async with aclosing(_resources(ctx, caller, rt, scope, cached)) as resources:
            async for resource in resources:
                await batch.add(ctx.redactor.resource(resource, rt.secret_fields))
        await batch.flush_all()
    except SinkError:
        raise
    except Exception as exc:  # any AWS failure: this type/scope is not complete
        error_class, error = classify_error(exc), describe_error(exc)
        log.warning("scan of %s %s %s failed (%s): %s", ctx.account, scope, rt.name, error_class, error)
        await batch.finish_failed(error_class, error, utcnow())
        if cached is not None:
            cached.finish(complete=False)
        return TypeScanResult(scope, rt.name, "failed", batch.count, caller.calls, error_class, error)
    if cached is not None:
        cached.finish(complete=True)  # listed in full: what it did not list is gone
    undelivered = await batch.finish_ok(utcnow())
    if undelivered:
        error = f"{len(undelivered)} shard(s) not delivered; {next(iter(undelivered.values()))}"
        log.warning("scan of %s %s %s not delivered: %s", ctx.account, scope, rt.name, error)
        return TypeScanResult(scope, rt.name, "failed", batch.count, caller.calls, "delivery-failed", error)
    return TypeScanResult(scope, rt.name, "ok", batch.count, caller.calls)


async def _resources(ctx: _AccountScan, caller: AwsCaller, rt: ResourceType, scope: str,
                     cached: ScopeCache | None) -> AsyncIterator[Resource]:
    home = await ctx.clients.get(rt.service, client_region(scope))
    partition = partition_for(home.region)
    savings = Savings(ctx.account, partition, ctx.bulk, ctx.details, cached)
    shared: dict | None = None  # the account details: asked once, when there is something to complete
    async with aclosing(listed_pages(caller, home, rt)) as pages:
        async for items in pages:
            if shared is None and items:
                shared = await account_values(ctx.clients, caller, rt, ctx.account, home.region)
            entries = await complete_entries(ctx.clients, caller, rt,
                                             [Entry({**item, **(shared or {})}, scope, home) for item in items],
                                             savings)
            for entry in entries:
                yield build_resource(rt, entry.raw, account=ctx.account, region=entry.region, partition=partition)
