"""Grouping one type scan's resources by shard: pages out, then one marker per shard.

Observations travel as pages (one message per page, keyed by shard); when the scan
of an account/scope/type ends, every shard of it — empty ones too — gets a marker.
A successful marker lists the ids seen in its shard, which is what lets the worker
infer deletions; a failed one lists none, so nothing is ever inferred from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from collectors.exceptions import SinkError
from collectors.sink import ScanSink
from elava.events import ErrorClass, Observation, Resource, ScanMarker, digest
from elava.sharding import all_shards, shard_of


@dataclass
class _Shard:
    buffer: list[Resource] = field(default_factory=list)
    next_page: int = 0
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScanScope:
    """What one type scan covers; ``region`` is the shard scope (``global`` for S3)."""

    scan_id: str
    account: str
    region: str
    type_name: str
    buckets: int
    started_at: datetime


class ShardBatcher:
    def __init__(self, sink: ScanSink, scope: ScanScope, *, page_size: int) -> None:
        if page_size < 1 or scope.buckets < 1:
            raise ValueError("page_size and buckets must be at least 1")
        self._sink = sink
        self._scope = scope
        self._page_size = page_size
        self._shards: dict[str, _Shard] = {}
        self._seen: set[str] = set()

    @property
    def count(self) -> int:
        return len(self._seen)

    async def add(self, resource: Resource) -> None:
        if resource.uid in self._seen:
            return  # listings can repeat an item across pages while it changes
        self._seen.add(resource.uid)
        scope = self._scope
        key = shard_of(resource.uid, scope.account, scope.region, scope.type_name, scope.buckets)
        shard = self._shards.setdefault(key, _Shard())
        shard.buffer.append(resource)
        shard.ids.append(resource.id)
        if len(shard.buffer) >= self._page_size:
            await self._flush(key, shard)

    async def _flush(self, key: str, shard: _Shard) -> None:
        if not shard.buffer:
            return
        scope = self._scope
        page = Observation(
            scan_id=scope.scan_id, account=scope.account, region=scope.region, type=scope.type_name,
            shard=key, page=shard.next_page, observed_at=scope.started_at, resources=shard.buffer,
            shard_buckets=scope.buckets,
        )
        shard.buffer, shard.next_page = [], shard.next_page + 1
        await self._send(self._sink.page, page)

    async def flush_all(self) -> None:
        for key, shard in self._shards.items():
            await self._flush(key, shard)

    async def finish_ok(self, finished_at: datetime) -> int:
        """Flush what is left, then tell every shard the scan is complete and what it saw."""
        await self.flush_all()
        for key in self._all_keys():
            ids = sorted(self._shards[key].ids) if key in self._shards else []
            await self._send(self._sink.marker, self._marker(
                key, finished_at, status="ok", count=len(ids), ids=ids, ids_digest=digest(ids)))
        return self.count

    async def finish_failed(self, error_class: ErrorClass, error: str, finished_at: datetime) -> None:
        """Tell every shard the scan failed. Unflushed resources are dropped: the pages
        already sent are true, but nothing of a failed scan may look complete."""
        self._shards.clear()
        for key in self._all_keys():
            await self._send(self._sink.marker, self._marker(
                key, finished_at, status="failed", error_class=error_class, error=error))

    def _all_keys(self) -> list[str]:
        scope = self._scope
        return all_shards(scope.account, scope.region, scope.type_name, scope.buckets)

    def _marker(self, key: str, finished_at: datetime, **fields) -> ScanMarker:
        scope = self._scope
        return ScanMarker(
            scan_id=scope.scan_id, account=scope.account, region=scope.region, type=scope.type_name,
            shard=key, started_at=scope.started_at, finished_at=finished_at, shard_buckets=scope.buckets, **fields,
        )

    @staticmethod
    async def _send(send, event) -> None:
        try:
            await send(event)
        except Exception as exc:  # the sink's failure is not the scan's (AWS) failure
            raise SinkError(f"sink refused {type(event).__name__} for {event.shard}: {exc}") from exc
