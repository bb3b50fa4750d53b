"""`elava watch`: the embedded pipeline on a loop, with CloudTrail attribution, on one machine.

Each cycle reads what the configured CloudTrail sources delivered since the last one
(LookupEvents by default; S3 log files and EventBridge/SQS where configured), then
scans, into the same local store and the same partition processing as `elava scan`
and the worker. Trail events go in first, so a change made before the cycle meets its
event when the scan finds it; an event that CloudTrail delivers later (minutes, often)
arrives in a later cycle and attributes the stored version again, as in the worker.
Where each source got to is kept in the local store (cursors), not in Kafka.

A cycle that fails is reported and the loop goes on; `stop` ends it between cycles
or cancels the cycle under way (a cancelled scan infers no deletions).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from collectors.aws.detail_cache import DetailCache
from collectors.cloudtrail.service import TrailReport, collect_trail
from collectors.service import detail_cache
from elava.events import TrailEvent, utcnow
from elava.settings import Settings
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.drivers.embedded.scan import EmbeddedScan, embedded_scan
from streams.store.versioned import VersionStore

log = logging.getLogger(__name__)
CHECKPOINT_CURSOR = "cloudtrail-checkpoint:"


class StoreCheckpoints:
    """Where each CloudTrail source got to, as cursors of the local store."""

    def __init__(self, store: VersionStore) -> None:
        self.store = store

    def get(self, key: str) -> dict[str, Any] | None:
        data = self.store.get_cursor(CHECKPOINT_CURSOR + key)
        return orjson.loads(data) if data is not None else None

    async def put(self, key: str, position: dict[str, Any]) -> None:
        self.store.set_cursor(CHECKPOINT_CURSOR + key, orjson.dumps(position))


class PipelineTrailSink:
    """CloudTrail events into the embedded pipeline, one at a time, as the worker takes them."""

    def __init__(self, pipeline: EmbeddedPipeline, details: DetailCache | None = None) -> None:
        self.pipeline = pipeline
        self.details = details
        self.count = 0

    async def publish(self, events: list[TrailEvent]) -> None:
        for event in events:
            await self.pipeline.trail(event)
        if self.details is not None:
            self.details.note_trail(events)  # what CloudTrail names is described again in this cycle's scan
        self.count += len(events)


def trail_feed(settings: Settings, reports: list[TrailReport], details: DetailCache | None = None,
               ) -> Callable[[VersionStore, EmbeddedPipeline], Awaitable[None]]:
    """What `embedded_scan` runs before it scans: one pass over the CloudTrail sources."""
    async def feed(store: VersionStore, pipeline: EmbeddedPipeline) -> None:
        reports.append(await collect_trail(settings, PipelineTrailSink(pipeline, details), StoreCheckpoints(store),
                                           once=True))
    return feed


@dataclass
class Cycle:
    number: int
    started_at: datetime
    scan: EmbeddedScan | None = None
    trail: TrailReport | None = None  # None: the trail was not read (off, or the cycle failed first)
    error: BaseException | None = None
    cancelled: bool = False

    @property
    def partial(self) -> bool:
        return self.scan is not None and self.scan.partial


@dataclass
class Watch:
    settings: Settings
    interval: float
    type_names: list[str] | None = None
    with_trail: bool = True
    # The cycles keep each resource's details: an unchanged one, not named by CloudTrail and
    # not due for its refresh (providers.aws.detail_refresh_interval), costs no detail call.
    details: DetailCache | None = None

    def __post_init__(self) -> None:
        if self.details is None:
            self.details = detail_cache(self.settings)

    async def cycle(self, number: int) -> Cycle:
        cycle, reports = Cycle(number, utcnow()), []
        feed = trail_feed(self.settings, reports, self.details) if self.with_trail else None
        try:
            cycle.scan = await embedded_scan(self.settings, self.type_names, before=feed, details=self.details)
        except Exception as exc:  # reported; the next cycle tries again
            log.debug("watch cycle %d failed", number, exc_info=True)
            cycle.error = exc
        cycle.trail = reports[0] if reports else None
        return cycle

    async def run(self, stop: asyncio.Event, on_cycle: Callable[[Cycle], None], once: bool = False) -> Cycle | None:
        """Cycles until ``stop`` is set (or one, with ``once``); the last cycle."""
        last, number = None, 0
        while not stop.is_set():
            number += 1
            last = await self._unless_stopped(number, stop)
            on_cycle(last)
            if once or last.cancelled:
                break
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                pass
        return last

    async def _unless_stopped(self, number: int, stop: asyncio.Event) -> Cycle:
        work = asyncio.create_task(self.cycle(number))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            stopped.cancel()
            return work.result()
        work.cancel()  # embedded_scan closes the store and the policies on its way out
        try:
            await work
        except asyncio.CancelledError:
            pass
        return Cycle(number, utcnow(), cancelled=True)
