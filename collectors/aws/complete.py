"""Completing one page of listed items: located, described, filtered, detailed.

Two savings sit here, both optional (the executor's look at one resource uses neither):

- tags in bulk (`bulk_tags.py`): a ``bulk_tags`` type's per-resource tag call is replaced
  by the region's tag index, or made as before when the index is unavailable;
- details reused (`detail_cache.py`): an item whose listed view is unchanged reuses the
  details asked last time, unless CloudTrail named it, it was settling or its refresh is
  due; volatile detail calls (target health) are asked every scan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from collectors.aws.build import resource_arn, resource_attributes, resource_id
from collectors.aws.bulk_tags import BulkTags
from collectors.aws.calls import AwsCaller, ClientPool
from collectors.aws.detail_cache import CachedDetails, DetailCache, ScopeCache, fingerprint
from collectors.aws.details import Entry, fetch, run_details
from collectors.exceptions import MalformedResponse
from elava.catalogue.expressions import extract
from elava.catalogue.types import ResourceType


@dataclass(frozen=True)
class Savings:
    """What one type scan may save calls with, and what it needs to name a resource."""

    account: str
    partition: str
    bulk: BulkTags | None = None
    cache: DetailCache | None = None
    scope: ScopeCache | None = None


async def complete_entries(clients: ClientPool, caller: AwsCaller, rt: ResourceType, entries: list[Entry],
                           savings: Savings | None = None) -> list[Entry]:
    """One page of items, completed: located, described, filtered, detailed."""
    if savings is None or savings.cache is None or savings.scope is None:
        return await _ask(clients, caller, rt, entries, savings)
    return await _reuse_or_ask(clients, caller, rt, entries, savings)


async def _ask(clients: ClientPool, caller: AwsCaller, rt: ResourceType, entries: list[Entry],
               savings: Savings | None) -> list[Entry]:
    if rt.region_detail:
        # A TaskGroup, not gather: when one item fails, its siblings are cancelled.
        async with asyncio.TaskGroup() as group:
            for entry in entries:
                if not await _located_by_listing(clients, rt, entry):
                    group.create_task(_locate(clients, caller, rt, entry))
    if rt.describe:
        await run_details(caller, (rt.describe,), entries)
        entries = [entry for entry in entries if entry.raw.get(rt.describe.store_as) is not None]
    if rt.absent_when:
        entries = [entry for entry in entries if not rt.absent_when(entry.raw)]
    bulk = savings.bulk if savings is not None and rt.bulk_tags else None
    await run_details(caller, tuple(d for d in rt.details if bulk is None or d is not rt.tags_detail), entries)
    if bulk is not None and savings is not None:
        await bulk_tagged(caller, rt, entries, savings)
    return entries


async def _locate(clients: ClientPool, caller: AwsCaller, rt: ResourceType, entry: Entry) -> None:
    """Where the resource lives decides its region and the client for its details."""
    assert rt.region_detail is not None
    region = entry.raw[rt.region_detail.store_as] = await fetch(caller, entry.bound, rt.region_detail, entry.raw)
    if not region:
        raise MalformedResponse(f"{rt.name}: {rt.region_detail.operation} gave no region")
    entry.region, entry.bound = region, await clients.get(rt.service, region)


async def _located_by_listing(clients: ClientPool, rt: ResourceType, entry: Entry) -> bool:
    """The listing said where the resource lives (``listed_region``): no call needed."""
    assert rt.region_detail is not None
    listed = extract(entry.raw, rt.listed_region) if rt.listed_region else None
    if not listed:
        return False
    detail = rt.region_detail
    region = entry.raw[detail.store_as] = detail.convert(listed) if detail.convert else listed
    entry.region, entry.bound = region, await clients.get(rt.service, region)
    return True


def _arn(rt: ResourceType, entry: Entry, savings: Savings) -> str | None:
    try:
        return resource_arn(rt, entry.raw, rid=resource_id(rt, entry.raw), account=savings.account,
                            region=entry.region, partition=savings.partition)
    except MalformedResponse:
        return None


async def bulk_tagged(caller: AwsCaller, rt: ResourceType, entries: list[Entry], savings: Savings) -> None:
    """Each entry's tags from its region's tag index, or from the per-resource call where there is none."""
    detail, bulk = rt.tags_detail, savings.bulk
    assert detail is not None and bulk is not None
    unindexed = []
    for region in sorted({entry.region for entry in entries}):
        index = await bulk.index(region)
        for entry in (entry for entry in entries if entry.region == region):
            arn = _arn(rt, entry, savings) if index is not None else None
            # Not in the index is "no tags", unless the details reused show it had some: the
            # index is eventually consistent, and a lagging one would publish a false untagging.
            if index is None or arn is None or (arn not in index and entry.raw.get(detail.store_as)):
                unindexed.append(entry)
            else:
                entry.raw[detail.store_as] = index.get(arn, detail.default)
    await run_details(caller, (detail,), unindexed)


async def _reuse_or_ask(clients: ClientPool, caller: AwsCaller, rt: ResourceType, entries: list[Entry],
                        savings: Savings) -> list[Entry]:
    cache, scope = savings.cache, savings.scope
    assert cache is not None and scope is not None
    started = cache.now()  # before asking: a CloudTrail touch from now on asks again next time
    listed: dict[int, tuple[str, bytes]] = {}
    reused, fresh = [], []
    for entry in entries:
        try:
            rid = resource_id(rt, entry.raw)
        except MalformedResponse:  # the id needs the details: nothing to key the cache by
            fresh.append(entry)
            continue
        digest = fingerprint(entry.raw)
        listed[id(entry)] = (rid, digest)
        scope.seen.add(rid)
        cached = scope.entries.get(rid)
        if cache.reusable(cached, digest):
            assert cached is not None
            await _restore(clients, rt, entry, cached)
            reused.append(entry)
        else:
            fresh.append(entry)
    kept = {id(entry) for entry in await _ask(clients, caller, rt, fresh, savings)}
    _remember(rt, scope, fresh, listed, started, savings)
    if rt.absent_when:
        reused = [entry for entry in reused if not rt.absent_when(entry.raw)]
    await run_details(caller, tuple(d for d in rt.details if d.asked_every_scan()), reused)
    if rt.bulk_tags and savings.bulk is not None:
        await bulk_tagged(caller, rt, reused, savings)  # tags are asked every scan: they move most
    kept |= {id(entry) for entry in reused}
    return [entry for entry in entries if id(entry) in kept]


async def _restore(clients: ClientPool, rt: ResourceType, entry: Entry, cached: CachedDetails) -> None:
    entry.raw.update(cached.values)
    if cached.region != entry.region:
        entry.region, entry.bound = cached.region, await clients.get(rt.service, cached.region)


def _remember(rt: ResourceType, scope: ScopeCache, fresh: list[Entry], listed: dict[int, tuple[str, bytes]],
              started: datetime, savings: Savings) -> None:
    """What was asked this time, for the next scans (not what could not be described: gone)."""
    fields = [detail.store_as for detail in rt.all_details()]
    for entry in fresh:
        if id(entry) not in listed or (rt.describe and entry.raw.get(rt.describe.store_as) is None):
            continue
        rid, digest = listed[id(entry)]
        values = {name: entry.raw[name] for name in fields if name in entry.raw}
        scope.entries[rid] = CachedDetails(digest, values, entry.region, started, _arn(rt, entry, savings),
                                           settling=_settling(rt, entry))


def _settling(rt: ResourceType, entry: Entry) -> bool:
    """The built resource's state is one AWS moves on from by itself (no CloudTrail event says so)."""
    life = rt.lifecycle
    if life is None or not life.settling:
        return False
    try:
        return resource_attributes(rt, entry.raw).get(life.attribute) in life.settling
    except MalformedResponse:  # it will not build either: nothing worth keeping
        return True
