"""Grouping one type scan's resources by shard: pages out, then one marker per shard.

Observations travel as pages (one message per page, keyed by shard); when the scan
of an account/scope/type ends, every shard of it — empty ones too — gets a marker.
A successful marker lists the ids seen in its shard, which is what lets the worker
infer deletions; a failed one lists none, so nothing is ever inferred from it.

A page closes at ``page_size`` resources or before its encoded bytes would pass
``page_bytes`` (under the topic's ``max.message.bytes``); a resource larger than that
alone is a page of its own, which the Kafka sink sends in parts (`elava.parts`).
A sink may hand back a delivery for each page and marker: a shard's marker is sent
only after every delivery of its pages is confirmed, and is ``failed`` if any was
not; a marker that is not delivered fails its scan too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from collectors.exceptions import DeliveryFailed, SinkError
from collectors.sink import ScanSink
from elava.events import ErrorClass, Observation, Resource, ScanMarker, digest
from elava.sharding import all_shards, shard_of

log = logging.getLogger(__name__)

# Room left in a message beside the page's JSON: key, CloudEvents and part headers,
# record and batch framing (together well under 1 KiB; the rest is margin).
MESSAGE_HEADROOM = 4096
# Page numbers grow while a shard's envelope is measured at page 0.
_PAGE_DIGITS = 10


def page_budget(max_message_bytes: int) -> int:
    """The most bytes of JSON one message may carry under a topic's ``max.message.bytes``."""
    return max_message_bytes - MESSAGE_HEADROOM


def encoded_size(resource: Resource) -> int:
    """Bytes of ``resource`` inside a page's JSON (the page encodes it the same way)."""
    return len(orjson.dumps(resource.model_dump(mode="json")))


@dataclass
class _Shard:
    envelope: int  # bytes of this shard's page JSON without resources
    buffer: list[Resource] = field(default_factory=list)
    buffer_bytes: int = 0
    next_page: int = 0
    ids: list[str] = field(default_factory=list)
    deliveries: list[tuple[int, Awaitable[object]]] = field(default_factory=list)  # (page, delivery)


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
    def __init__(self, sink: ScanSink, scope: ScanScope, *, page_size: int, page_bytes: int) -> None:
        if page_size < 1 or scope.buckets < 1 or page_bytes < 1:
            raise ValueError("page_size, page_bytes and buckets must be at least 1")
        self._sink = sink
        self._scope = scope
        self._page_size = page_size
        self._page_bytes = page_bytes
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
        shard = self._shards.get(key) or self._shards.setdefault(key, _Shard(self._envelope(key)))
        size = encoded_size(resource) + 1  # and the comma between items
        if shard.buffer and shard.envelope + shard.buffer_bytes + size > self._page_bytes:
            await self._flush(key, shard)
        shard.buffer.append(resource)
        shard.buffer_bytes += size
        shard.ids.append(resource.id)
        if len(shard.buffer) >= self._page_size or shard.envelope + shard.buffer_bytes >= self._page_bytes:
            await self._flush(key, shard)

    def _envelope(self, key: str) -> int:
        return len(self._page(key, 0, []).to_bytes()) + _PAGE_DIGITS

    def _page(self, key: str, number: int, resources: list[Resource]) -> Observation:
        scope = self._scope
        return Observation(
            scan_id=scope.scan_id, account=scope.account, region=scope.region, type=scope.type_name,
            shard=key, page=number, observed_at=scope.started_at, resources=resources,
            shard_buckets=scope.buckets,
        )

    async def _flush(self, key: str, shard: _Shard) -> None:
        if not shard.buffer:
            return
        page = self._page(key, shard.next_page, shard.buffer)
        shard.buffer, shard.buffer_bytes, shard.next_page = [], 0, shard.next_page + 1
        delivery = await self._send(self._sink.page, page)
        if delivery is not None:
            shard.deliveries.append((page.page, delivery))

    async def flush_all(self) -> None:
        for key, shard in self._shards.items():
            await self._flush(key, shard)

    async def finish_ok(self, finished_at: datetime) -> dict[str, str]:
        """Flush what is left; once each shard's pages are delivered, tell it the scan is
        complete and what it saw. Returns the shards that were not delivered, with why:
        their markers say ``failed`` (if they could be sent at all)."""
        await self.flush_all()
        undelivered: dict[str, str] = {}
        markers = []
        for key in self._all_keys():
            shard = self._shards.get(key)
            reason = await _settle(shard.deliveries) if shard is not None else None
            if reason is None:
                ids = sorted(shard.ids) if shard is not None else []
                markers.append(self._marker(key, finished_at, status="ok", count=len(ids), ids=ids,
                                            ids_digest=digest(ids)))
            else:
                undelivered[key] = reason
                markers.append(self._marker(key, finished_at, status="failed", error_class="delivery-failed",
                                            error=reason))
        for key, reason in (await self._send_markers(markers)).items():
            undelivered.setdefault(key, reason)
        return undelivered

    async def finish_failed(self, error_class: ErrorClass, error: str, finished_at: datetime) -> None:
        """Tell every shard the scan failed. Unflushed resources are dropped: the pages
        already sent are true, but nothing of a failed scan may look complete."""
        for shard in self._shards.values():
            await _settle(shard.deliveries)  # the scan is failed already; only collect the outcomes
        self._shards.clear()
        markers = [self._marker(key, finished_at, status="failed", error_class=error_class, error=error)
                   for key in self._all_keys()]
        for key, reason in (await self._send_markers(markers)).items():
            log.warning("failed marker for %s not delivered: %s", key, reason)

    def _all_keys(self) -> list[str]:
        scope = self._scope
        return all_shards(scope.account, scope.region, scope.type_name, scope.buckets)

    def _marker(self, key: str, finished_at: datetime, **fields) -> ScanMarker:
        scope = self._scope
        return ScanMarker(
            scan_id=scope.scan_id, account=scope.account, region=scope.region, type=scope.type_name,
            shard=key, started_at=scope.started_at, finished_at=finished_at, shard_buckets=scope.buckets, **fields,
        )

    async def _send_markers(self, markers: list[ScanMarker]) -> dict[str, str]:
        """Send markers, all before waiting for any (they are small and go in order);
        the shards whose marker was not delivered, with why."""
        reasons: dict[str, str] = {}
        sent: list[tuple[str, Awaitable[object]]] = []
        for marker in markers:
            try:
                delivery = await self._send(self._sink.marker, marker)
            except DeliveryFailed as exc:
                reasons[marker.shard] = str(exc)
                continue
            if delivery is not None:
                sent.append((marker.shard, delivery))
        for shard, delivery in sent:
            try:
                await delivery
            except Exception as exc:
                reasons[shard] = f"marker not delivered: {type(exc).__name__}: {exc}"
        return reasons

    @staticmethod
    async def _send(send, event):
        try:
            return await send(event)
        except DeliveryFailed:
            raise
        except Exception as exc:  # the sink's failure is not the scan's (AWS) failure
            raise SinkError(f"sink refused {type(event).__name__} for {event.shard}: {exc}") from exc


async def _settle(deliveries: list[tuple[int, Awaitable[object]]]) -> str | None:
    """Wait for every delivery; the first failure's reason, or None if all arrived."""
    reason = None
    for page, delivery in deliveries:
        try:
            await delivery
        except Exception as exc:  # every outcome is collected: none is left unretrieved
            reason = reason or f"page {page} not delivered: {type(exc).__name__}: {exc}"
    deliveries.clear()
    return reason
