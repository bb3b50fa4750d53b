"""Completing listed items: detail calls one per item, paged, fanned out, or batched.

Every answer is stored in the item under the call's ``store_as``; the pure shaping
(`build.py`) then reads the item as if AWS had returned it all at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from collectors.aws.build import detail_params, detail_value
from collectors.aws.calls import AwsCaller, BoundClient, ClientPool
from collectors.aws.errors import error_code
from elava.catalogue.expressions import extract
from elava.catalogue.types import ACCOUNT, EACH, DetailCall, ResourceType


@dataclass
class Entry:
    """One listed item on its way to a resource: where it lives, what is known of it."""

    raw: dict[str, Any]
    region: str
    bound: BoundClient


def _finish(detail: DetailCall, value: Any) -> Any:
    return detail.convert(value) if detail.convert else value


async def fetch(caller: AwsCaller, bound: BoundClient, detail: DetailCall, item: dict[str, Any]) -> Any:
    """One item's value for ``detail`` (``default`` when AWS says "not configured")."""
    params = detail_params(detail, item)
    try:
        value = await (_paged(caller, bound, detail, params) if detail.paged
                       else _single(caller, bound, detail, params))
    except ClientError as exc:
        if error_code(exc) in detail.none_errors:
            return detail.default  # "not configured" is a value, not a failure
        raise
    if detail.each is not None:
        value = await _fan_out(caller, bound, detail.each, item, value)
    return _finish(detail, value)


async def _single(caller: AwsCaller, bound: BoundClient, detail: DetailCall, params: dict[str, Any]) -> Any:
    return detail_value(detail, await caller.call(bound, detail.operation, params))


async def _paged(caller: AwsCaller, bound: BoundClient, detail: DetailCall, params: dict[str, Any]) -> list:
    joined: list[Any] = []
    async for page in caller.pages(bound, detail.operation, params):
        joined.extend(detail_value(detail, page) or [])
    return joined


async def _fan_out(caller: AwsCaller, bound: BoundClient, each: DetailCall, item: dict[str, Any],
                   elements: Any) -> list[Any]:
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(fetch(caller, bound, each, {**item, EACH: element}))
                 for element in elements or []]
    # An element that went between the two calls answers a none_error: it is not there.
    answers = [(element, task.result()) for element, task in zip(elements or [], tasks, strict=True)]
    if each.keep_element:
        return [{**element, each.store_as: value} for element, value in answers if value is not None]
    return [value for _, value in answers if value is not None]


async def account_values(clients: ClientPool, caller: AwsCaller, rt: ResourceType, account: str,
                         region: str) -> dict[str, Any]:
    """The answers of the type's account details (asked once per scan of the type), by ``store_as``."""
    values: dict[str, Any] = {}
    for detail in rt.account_details:
        bound = await clients.get(detail.service or rt.service, region)
        values[detail.store_as] = await fetch(caller, bound, detail, {ACCOUNT: account})
    return values


async def _store_one(caller: AwsCaller, detail: DetailCall, entry: Entry) -> None:
    entry.raw[detail.store_as] = await fetch(caller, entry.bound, detail, entry.raw)


def _batches(detail: DetailCall, entries: list[Entry]) -> Iterator[tuple[dict[str, Any], list[Entry]]]:
    """Entries that can share a call (same client, same other params), ``size`` at a time."""
    assert detail.batch is not None
    groups: dict[tuple[int, str], tuple[dict[str, Any], list[Entry]]] = {}
    for entry in entries:
        params = detail_params(detail, entry.raw)
        params.pop(detail.batch.param)
        key = (id(entry.bound), json.dumps(params, sort_keys=True, default=str))
        groups.setdefault(key, (params, []))[1].append(entry)
    for params, members in groups.values():
        for start in range(0, len(members), detail.batch.size):
            yield params, members[start:start + detail.batch.size]


async def _store_batch(caller: AwsCaller, detail: DetailCall, params: dict[str, Any], chunk: list[Entry]) -> None:
    batch = detail.batch
    assert batch is not None
    wanted = [extract(entry.raw, detail.params[batch.param]) for entry in chunk]
    try:
        response = await caller.call(chunk[0].bound, detail.operation, {**params, batch.param: wanted})
        elements = detail_value(detail, response) or []
    except ClientError as exc:
        if error_code(exc) not in detail.none_errors:
            raise
        if len(chunk) > 1:
            # One item went between listing and asking (describe_tags then fails as a
            # whole): ask again one by one, so only that one gets the default.
            for entry in chunk:
                await _store_batch(caller, detail, params, [entry])
            return
        elements = []
    found = {extract(element, batch.match): element for element in elements}
    for entry, key in zip(chunk, wanted, strict=True):
        element = found.get(key)
        if element is None:
            entry.raw[detail.store_as] = detail.default
        else:
            entry.raw[detail.store_as] = _finish(detail, extract(element, batch.value) if batch.value else element)


async def run_details(caller: AwsCaller, details: tuple[DetailCall, ...], entries: list[Entry]) -> None:
    """Every detail for every entry, concurrently (bounded per client by `calls.py`)."""
    if not entries or not details:
        return
    # A TaskGroup, not gather: when one call fails, its siblings are cancelled.
    async with asyncio.TaskGroup() as group:
        for detail in details:
            if detail.batch is None:
                for entry in entries:
                    group.create_task(_store_one(caller, detail, entry))
            else:
                for params, chunk in _batches(detail, entries):
                    group.create_task(_store_batch(caller, detail, params, chunk))
