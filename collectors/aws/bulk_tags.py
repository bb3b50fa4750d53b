"""Tags in bulk: the Resource Groups Tagging API's ``GetResources``, once per region of a scan.

One paged listing (100 resources a page) gives the tags of every tagged resource of
the region for all the ``bulk_tags`` types scanned, instead of one tag call per
resource. A resource the answer does not name has no tags (the API lists only
resources that carry, or once carried, a tag), unless its reused details had some: the
API is eventually consistent, so that one is asked with its own tag call. When the listing fails (the role lacks
``tag:GetResources``, the call is throttled to death), the types fall back to their
per-resource tag call for that region: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from collectors.aws.calls import AwsCaller, ClientPool
from collectors.aws.errors import describe_error
from elava.catalogue.types import BULK_TAGS_OPERATION, BULK_TAGS_SERVICE, ResourceType

log = logging.getLogger(__name__)
PAGE_SIZE = 100  # GetResources' largest page of resources

TagIndex = dict[str, list[dict[str, Any]]]
"""ARN -> its tags as the API gives them (``[{"Key", "Value"}]``)."""


class BulkTags:
    """The tag index of each region, asked at most once per scan, shared by the types."""

    def __init__(self, clients: ClientPool, caller: AwsCaller, types: list[ResourceType]) -> None:
        self._clients = clients
        self._caller = caller  # its count is the scan's shared calls
        self._filters = sorted({rt.bulk_tags for rt in types if rt.bulk_tags})
        self._regions: dict[str, asyncio.Task[TagIndex | None]] = {}

    @property
    def calls(self) -> int:
        return self._caller.calls

    @property
    def throttles(self) -> int:
        return self._caller.throttles

    async def index(self, region: str) -> TagIndex | None:
        """The region's tags by ARN; None when the bulk listing failed (ask per resource)."""
        if not self._filters:
            return None
        if region not in self._regions:
            self._regions[region] = asyncio.ensure_future(self._fetch(region))
        return await asyncio.shield(self._regions[region])

    async def _fetch(self, region: str) -> TagIndex | None:
        params = {"ResourceTypeFilters": self._filters, "ResourcesPerPage": PAGE_SIZE}
        found: TagIndex = {}
        try:
            bound = await self._clients.get(BULK_TAGS_SERVICE, region)
            async for page in self._caller.pages(bound, BULK_TAGS_OPERATION, params):
                for mapping in page.get("ResourceTagMappingList", []):
                    found[mapping["ResourceARN"]] = mapping.get("Tags") or []
        except Exception as exc:  # any failure: the per-resource calls still give the right tags
            log.warning("tags in bulk unavailable in %s (%s): asking per resource", region, describe_error(exc))
            return None
        return found

    def close(self) -> None:
        """At the end of the scan: a listing no type waits for any more is not left running."""
        for task in self._regions.values():
            task.cancel()
