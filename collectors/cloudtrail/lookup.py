"""LookupEvents polling, per account and region.

LookupEvents allows 2 requests/s per account and region, so each poller spaces its
calls with its own `RateLimiter`, and retries throttling errors with our jittered
backoff (botocore's retries only see HTTP answers). A poll reads the window from
the checkpoint (or ``lookback`` ago) to now, page by page with NextToken.

CloudTrail shows an event in LookupEvents minutes after its call, and not in call
order: an event may appear after newer ones were read. So the checkpoint is the time
of the newest event seen and the ids of the events from ``late_delivery`` before it:
the next poll starts that far back (StartTime is inclusive) and skips those ids. An
event appearing later than that is missed; nothing else is.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from collectors.aws.calls import DEFAULT_BACKOFF, Backoff
from collectors.aws.errors import is_throttling
from collectors.cloudtrail.checkpoints import Checkpoints, checkpoint_key
from collectors.cloudtrail.sink import TrailSink, events_of

log = logging.getLogger(__name__)
LOOKUP_RATE = 2.0  # requests per second, per account and region (CloudTrail's quota)
MAX_RESULTS = 50  # LookupEvents' largest page


class RateLimiter:
    """At most ``rate`` acquisitions per second, evenly spaced (no bursts)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self._clock()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self.interval


@dataclass
class LookupCursor:
    """Newest event time seen, and the ids of the events seen from ``late_delivery`` before it."""

    time: datetime | None = None
    ids: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat() if self.time else None, "ids": sorted(self.ids)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> LookupCursor:
        if not data or not data.get("time"):
            return cls()
        return cls(datetime.fromisoformat(data["time"]), set(data.get("ids") or ()))

    def start(self, late: timedelta) -> datetime | None:
        return self.time - late if self.time else None

    def is_new(self, event: dict[str, Any]) -> bool:
        return event["EventId"] not in self.ids

    def advanced(self, events: list[dict[str, Any]], late: timedelta) -> LookupCursor:
        """The cursor after a poll that listed ``events``: every event from ``start`` on, so
        the ids of its window are all among them."""
        if not events:
            return self
        newest = max([_utc(e["EventTime"]) for e in events] + ([self.time] if self.time else []))
        return LookupCursor(newest, {e["EventId"] for e in events if _utc(e["EventTime"]) >= newest - late})


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _call(client: Any, params: dict[str, Any], limiter: RateLimiter, backoff: Backoff,
                rng: random.Random) -> dict[str, Any]:
    for retry in range(backoff.attempts):
        await limiter.acquire()  # every attempt counts against the quota
        try:
            return await client.lookup_events(**params)
        except Exception as exc:
            if not is_throttling(exc) or retry + 1 >= backoff.attempts:
                raise
        await asyncio.sleep(backoff.delay(retry, rng))
    raise AssertionError("unreachable: the last attempt returns or raises")


async def lookup_pages(client: Any, start: datetime, end: datetime, limiter: RateLimiter,
                       backoff: Backoff = DEFAULT_BACKOFF, rng: random.Random | None = None,
                       ) -> AsyncIterator[list[dict[str, Any]]]:
    """The events of [start, end], a page at a time, following NextToken."""
    params: dict[str, Any] = {"StartTime": start, "EndTime": end, "MaxResults": MAX_RESULTS}
    rng = rng or random.Random()
    while True:
        answer = await _call(client, params, limiter, backoff, rng)
        yield answer.get("Events", [])
        token = answer.get("NextToken")
        if not token:
            return
        params = {**params, "NextToken": token}


def records_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CloudTrail records a LookupEvents page carries as JSON text."""
    records = []
    for event in events:
        try:
            records.append(orjson.loads(event["CloudTrailEvent"]))
        except (KeyError, orjson.JSONDecodeError):
            log.warning("LookupEvents event %s has no readable CloudTrailEvent", event.get("EventId"))
    return records


@dataclass
class LookupPoller:
    """Polls one account/region; its cursor lives in the checkpoints under ``lookup/account/region``."""

    client: Any
    account: str
    region: str
    sink: TrailSink
    checkpoints: Checkpoints
    lookback: timedelta = timedelta(hours=1)
    late_delivery: timedelta = timedelta(minutes=15)
    backoff: Backoff = DEFAULT_BACKOFF
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(LOOKUP_RATE))

    @property
    def key(self) -> str:
        return checkpoint_key("lookup", self.account, self.region)

    async def poll(self, now: datetime | None = None) -> int:
        """One poll: publish what is new since the checkpoint, then move it. Returns events published."""
        now = now or datetime.now(UTC)
        cursor = LookupCursor.from_json(self.checkpoints.get(self.key))
        start = cursor.start(self.late_delivery) or now - self.lookback
        seen: list[dict[str, Any]] = []
        published = 0
        async for page in lookup_pages(self.client, start, now, self.limiter, self.backoff):
            fresh = [event for event in page if cursor.is_new(event)]
            events = events_of(records_of(fresh))
            await self.sink.publish(events)
            seen.extend(page)
            published += len(events)
        advanced = cursor.advanced(seen, self.late_delivery)
        if advanced != cursor:
            await self.checkpoints.put(self.key, advanced.to_json())
        return published
