"""CloudTrail log files in S3: what a trail delivers, every few minutes, per account/region.

Files live under ``<prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/``,
named ``<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<unique>.json.gz``: they sort by the
minute they cover, but not by when they arrive. Files of one minute differ by a random
suffix, and a file may land minutes after files named later than it. So the position
(key ``s3/<account>/<region>``) is a window, not the last key read: listing starts
``late_delivery`` before the newest file's minute, and the files already read since
then are remembered and skipped. A file arriving later than that is missed; nothing
else is. The first poll starts ``lookback`` ago, not at the bucket's first file.
The position is checkpointed after each listing page whose files were published.
A file that cannot be read as CloudTrail is logged and passed: it would not become
readable later, and stopping there would stall the account/region for good.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.cloudtrail.checkpoints import Checkpoints, checkpoint_key
from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
from collectors.cloudtrail.normalize.records import parse_document, records_in
from collectors.cloudtrail.sink import TrailSink, events_of
from elava.events import TrailEvent, utcnow

log = logging.getLogger(__name__)
LOG_SUFFIXES = (".json.gz", ".json")
LATE_DELIVERY = timedelta(hours=1)
_NAME_MINUTE = re.compile(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4})")


def log_prefix(prefix: str, account: str, region: str, organization_id: str | None = None) -> str:
    """Where a trail writes one account/region's log files in its bucket."""
    parts = [prefix.strip("/")] if prefix.strip("/") else []
    parts += ["AWSLogs", *([organization_id] if organization_id else []), account, "CloudTrail", region]
    return "/".join(parts) + "/"


def file_events(data: bytes) -> list[TrailEvent]:
    """The TrailEvents of one log file (gzipped or not); UnreadableTrail if it is none."""
    return events_of(list(records_in(parse_document(data))))


def name_minute(key: str) -> datetime | None:
    """The minute a log file's name says it covers; None for a name of another shape."""
    match = _NAME_MINUTE.search(key.rsplit("/", 1)[-1])
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC) if match else None


@dataclass(frozen=True)
class LogWindow:
    """Where the next listing starts, and the files after that already read."""

    start_after: str | None = None
    read: frozenset[str] = field(default_factory=frozenset)

    def unread(self, keys: Iterable[str]) -> list[str]:
        return [key for key in keys if key.endswith(LOG_SUFFIXES) and key not in self.read]

    def after(self, keys: list[str], late: timedelta, key_at: Callable[[datetime], str]) -> LogWindow:
        """The window once ``keys`` (a listing page, in order) were read: it starts ``late``
        before the newest minute read, and never moves back."""
        read = self.read | set(keys)
        minutes = [minute for minute in map(name_minute, read) if minute is not None]
        start = key_at(max(minutes) - late) if minutes else keys[-1]
        start = max(start, self.start_after or "")
        return LogWindow(start, frozenset(key for key in read if key > start))


@dataclass
class S3LogPoller:
    """Reads one account/region's log files from the trail's bucket."""

    client: Any
    bucket: str
    account: str
    region: str
    sink: TrailSink
    checkpoints: Checkpoints
    prefix: str = ""
    organization_id: str | None = None
    late_delivery: timedelta = LATE_DELIVERY
    lookback: timedelta | None = None
    clock: Callable[[], datetime] = utcnow

    @property
    def key(self) -> str:
        return checkpoint_key("s3", self.account, self.region)

    @property
    def folder(self) -> str:
        return log_prefix(self.prefix, self.account, self.region, self.organization_id)

    def key_at(self, minute: datetime) -> str:
        """A key sorting just before every file named for ``minute`` or later."""
        return f"{self.folder}{minute:%Y/%m/%d}/{self.account}_CloudTrail_{self.region}_{minute:%Y%m%dT%H%M}"

    def _window(self) -> LogWindow:
        position = self.checkpoints.get(self.key) or {}
        # A position in another bucket or folder (settings changed) says nothing here.
        if position.get("bucket") != self.bucket or position.get("folder") != self.folder:
            return LogWindow(self.key_at(self.clock() - self.lookback) if self.lookback else None)
        if "start_after" in position:
            return LogWindow(position["start_after"], frozenset(self.folder + name for name in position["read"]))
        # A position of an earlier version (the last key read): read its window again.
        minute = name_minute(position["last_key"])
        return LogWindow(self.key_at(minute - self.late_delivery) if minute else position["last_key"])

    def _position(self, window: LogWindow, last_key: str) -> dict[str, Any]:
        read = sorted(key.removeprefix(self.folder) for key in window.read)
        return {"bucket": self.bucket, "folder": self.folder, "start_after": window.start_after,
                "read": read, "last_key": last_key}

    async def poll(self) -> int:
        """Publish the files not read yet in the window; returns events published."""
        window = self._window()
        params = {"Bucket": self.bucket, "Prefix": self.folder}
        if window.start_after:
            params["StartAfter"] = window.start_after
        published = 0
        async for page in self.client.get_paginator("list_objects_v2").paginate(**params):
            keys = window.unread(item["Key"] for item in page.get("Contents", []))
            for key in keys:
                published += await self._publish_file(key)
            if keys:
                window = window.after(keys, self.late_delivery, self.key_at)
                await self.checkpoints.put(self.key, self._position(window, keys[-1]))
        return published

    async def _publish_file(self, key: str) -> int:
        answer = await self.client.get_object(Bucket=self.bucket, Key=key)
        async with answer["Body"] as body:
            data = await body.read()
        try:
            events = file_events(data)
        except UnreadableTrail as exc:
            log.warning("s3://%s/%s is not a CloudTrail log file, passed: %s", self.bucket, key, exc)
            return 0
        await self.sink.publish(events)
        return len(events)
