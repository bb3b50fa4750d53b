"""A small estate for waste tests: resources scanned through the real partition processing
(versions, attribution, deletions) with the waste analyzer after it, as the drivers run it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from elava.analyzer_events import WasteFinding
from elava.catalogue import registry
from elava.events import (
    MetricSample,
    MetricsObservation,
    Observation,
    Resource,
    ScanMarker,
    TrailEvent,
    digest,
)
from elava.settings import WasteSettings
from elava.sharding import shard_of
from streams.analyzers.waste.analyzer import WasteAnalyzer
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore

ACCOUNT, REGION = "111122223333", "eu-west-1"
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BUCKETS = 1  # one shard per type: a scan of a type is one page and one marker


def resource(type_name: str, rid: str, tags: dict[str, str] | None = None, **attributes: Any) -> Resource:
    uid = registry.get(type_name).uid_for(rid, account=ACCOUNT, region=REGION, partition="aws")
    return Resource(uid=uid, type=type_name, id=rid, account=ACCOUNT, region=REGION, name=rid,
                    tags=tags if tags is not None else {"owner": "team-a"}, attributes=attributes)


def shard(type_name: str) -> str:
    return shard_of("any", ACCOUNT, REGION, type_name, BUCKETS)


class Estate:
    def __init__(self, **settings: Any) -> None:
        self.store = VersionStore(MemoryKV())
        self.processor = PartitionProcessor(self.store)
        self.analyzer = WasteAnalyzer(self.store, WasteSettings(**settings))
        self.scans = 0

    def scan(self, at: datetime, type_name: str, resources: list[Resource]) -> list[WasteFinding]:
        """One complete scan of ``type_name``: its page, then its marker; the findings it gave."""
        self.scans += 1
        scan_id = f"scan-{self.scans}"
        page = Observation(scan_id=scan_id, account=ACCOUNT, region=REGION, type=type_name, shard=shard(type_name),
                           page=0, observed_at=at, resources=resources)
        if resources:
            self.processor.process(page)
        return self.close(self.marker(at, type_name, resources, scan_id))

    def marker(self, at: datetime, type_name: str, resources: list[Resource], scan_id: str,
               status: str = "ok") -> ScanMarker:
        ids = sorted(r.id for r in resources) if status == "ok" else []
        return ScanMarker(scan_id=scan_id, account=ACCOUNT, region=REGION, type=type_name, shard=shard(type_name),
                          status=status, error_class=None if status == "ok" else "throttled", ids=ids,
                          ids_digest=digest(ids), count=len(ids), started_at=at, finished_at=at + timedelta(seconds=30))

    def close(self, marker: ScanMarker) -> list[WasteFinding]:
        self.processor.process(marker)
        return self.analyzer.on_marker(marker)

    def metrics(self, at: datetime, type_name: str, samples: dict[str, dict[str, float]],
                missing: dict[str, dict[str, str]] | None = None, window: timedelta = 14 * DAY,
                collection: str | None = None) -> list[WasteFinding]:
        return self.analyzer.on_metrics(self.metrics_message(at, type_name, samples, missing, window, collection))

    def metrics_message(self, at: datetime, type_name: str, samples: dict[str, dict[str, float]],
                        missing: dict[str, dict[str, str]] | None = None, window: timedelta = 14 * DAY,
                        collection: str | None = None) -> MetricsObservation:
        missing = missing or {}
        uids = list(dict.fromkeys([*samples, *missing]))
        return MetricsObservation(
            collection_id=collection or f"metrics-{at.isoformat()}", account=ACCOUNT, region=REGION,
            type=type_name, shard=shard(type_name), window_start=at - window, observed_at=at,
            samples=[MetricSample(uid=uid, values=samples.get(uid, {}), missing=missing.get(uid, {})) for uid in uids])

    def trail(self, event: TrailEvent) -> None:
        self.processor.process(event)
