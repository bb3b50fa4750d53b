"""CloudTrail log files in S3: what a trail delivers, every few minutes, per account/region.

Files live under ``<prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/``
with names that sort by time, so listing with ``StartAfter`` = the last key read
finds exactly the files delivered since. The last key is checkpointed (key
``s3/<account>/<region>``) after each listing page whose files were published.
A file that cannot be read as CloudTrail is logged and passed: it would not become
readable later, and stopping there would stall the account/region for good.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from collectors.cloudtrail.checkpoints import Checkpoints, checkpoint_key
from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
from collectors.cloudtrail.normalize.records import parse_document, records_in
from collectors.cloudtrail.sink import TrailSink, events_of
from elava.events import TrailEvent

log = logging.getLogger(__name__)
LOG_SUFFIXES = (".json.gz", ".json")


def log_prefix(prefix: str, account: str, region: str, organization_id: str | None = None) -> str:
    """Where a trail writes one account/region's log files in its bucket."""
    parts = [prefix.strip("/")] if prefix.strip("/") else []
    parts += ["AWSLogs", *([organization_id] if organization_id else []), account, "CloudTrail", region]
    return "/".join(parts) + "/"


def file_events(data: bytes) -> list[TrailEvent]:
    """The TrailEvents of one log file (gzipped or not); UnreadableTrail if it is none."""
    return events_of(list(records_in(parse_document(data))))


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

    @property
    def key(self) -> str:
        return checkpoint_key("s3", self.account, self.region)

    @property
    def folder(self) -> str:
        return log_prefix(self.prefix, self.account, self.region, self.organization_id)

    def _start_after(self) -> str | None:
        position = self.checkpoints.get(self.key) or {}
        # A position in another bucket or folder (settings changed) says nothing here.
        if position.get("bucket") == self.bucket and position.get("folder") == self.folder:
            return position.get("last_key")
        return None

    async def poll(self) -> int:
        """Publish the files delivered since the checkpoint; returns events published."""
        params = {"Bucket": self.bucket, "Prefix": self.folder}
        if start_after := self._start_after():
            params["StartAfter"] = start_after
        published = 0
        async for page in self.client.get_paginator("list_objects_v2").paginate(**params):
            keys = [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(LOG_SUFFIXES)]
            for key in keys:
                published += await self._publish_file(key)
            if keys:
                await self.checkpoints.put(self.key, {"bucket": self.bucket, "folder": self.folder,
                                                      "last_key": keys[-1]})
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
