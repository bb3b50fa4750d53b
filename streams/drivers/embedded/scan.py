"""`elava scan`: collectors and the core in one process, with a local store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from collectors.aws.detail_cache import DetailCache
from collectors.metrics.service import InventoryTap, MetricsReport, MetricsSchedule, collect_due_metrics
from collectors.service import AccountScan, discover_accounts, scan_once
from collectors.sink import ListSink, ScanSink, TeeSink
from elava.events import Resource, utcnow
from elava.settings import Settings
from elava.tiers import in_tiers, select_tiers, tier_accounts, tier_types
from streams.drivers.embedded.pipeline import EmbeddedPipeline, Outputs
from streams.layout import align_layout
from streams.policy.isolated import isolated_policies_for
from streams.store.kv import RocksKV
from streams.store.retention import enforce_retention
from streams.store.versioned import VersionStore


@dataclass
class EmbeddedScan:
    scans: list[AccountScan]
    resources: list[Resource]
    outputs: Outputs
    layout_moved: int = 0  # memberships moved to a changed kafka.shard_buckets before the scan
    metrics: dict[tuple[str, str], MetricsReport] | None = None  # per account/region whose metrics were due

    @property
    def partial(self) -> bool:
        return any(scan.report.partial for scan in self.scans)


async def scan_plan(settings: Settings, type_names: list[str] | None,
                    tier_names: list[str] | None) -> tuple[list[str], list[str] | None]:
    """Which accounts and types to scan: all, or those of the named tiers."""
    accounts = await discover_accounts(settings)
    if not tier_names:
        return accounts, type_names
    tiers = select_tiers(settings, tier_names)
    return tier_accounts(tiers, accounts), type_names or tier_types(tiers)


async def embedded_scan(settings: Settings, type_names: list[str] | None = None,
                        tier_names: list[str] | None = None, progress: ScanSink | None = None,
                        before: Callable[[VersionStore, EmbeddedPipeline], Awaitable[None]] | None = None,
                        details: DetailCache | None = None) -> EmbeddedScan:
    """One scan into the local store; ``before`` feeds the pipeline first (`elava watch`: CloudTrail);
    ``details`` (kept by a caller that scans again) spares the detail calls of unchanged resources."""
    accounts, types = await scan_plan(settings, type_names, tier_names)
    kv = RocksKV.for_scan(settings.storage.path)
    policies = isolated_policies_for(settings.policies)  # a policy that hangs must not hold the scan
    try:
        store = VersionStore(kv)
        moved = align_layout(store, settings.kafka.shard_buckets)  # never a deletion from a new layout
        pipeline, listing = EmbeddedPipeline(store, policies, settings.analyzer), ListSink()
        if before is not None:
            await before(store, pipeline)
        sinks = [pipeline, listing] + ([progress] if progress is not None else [])
        tap = InventoryTap(TeeSink(*sinks))
        scans = await scan_once(settings, tap, types, accounts, details)
        metrics = await measure_due(settings, store, tap, pipeline)
        pipeline.finish()  # re-created under a name, bursts: over every shard the scan saw
        enforce_retention(store, settings.storage.retention, utcnow())  # bounded: the rest next scan
    finally:
        kv.close()
        if policies is not None:
            policies.close()
    resources = listing.resources()
    if tier_names:
        tiers = select_tiers(settings, tier_names)
        resources = [r for r in resources if in_tiers(r, tiers)]
    return EmbeddedScan(scans, resources, pipeline.outputs, moved, metrics)


METRICS_CURSOR = "waste-metrics:"


async def measure_due(settings: Settings, store: VersionStore, tap: InventoryTap,
                      pipeline: EmbeddedPipeline) -> dict[tuple[str, str], MetricsReport]:
    """The metrics part of the collectors, at its own interval: when each account/region was
    last measured is kept in the store, so a scan every few minutes does not fetch every time."""
    schedule = MetricsSchedule(settings.analyzer.waste.metrics_interval)
    for account, region in tap.scopes():
        for type_name in {resource.type for resource, _ in tap.resources.get((account, region), [])}:
            last = store.get_cursor(f"{METRICS_CURSOR}{account}/{region}/{type_name}")
            if last is not None:
                schedule.done(account, region, type_name, datetime.fromisoformat(last.decode()))
    reports = await collect_due_metrics(settings, tap, schedule, pipeline)
    for (account, region, type_name), moment in schedule.last.items():
        store.set_cursor(f"{METRICS_CURSOR}{account}/{region}/{type_name}", moment.isoformat().encode())
    return reports
