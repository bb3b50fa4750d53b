"""Paging through a type's listing, directly or once per item of a parent listing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from botocore.exceptions import ClientError

from collectors.aws.build import bound_params
from collectors.aws.calls import AwsCaller, BoundClient
from collectors.aws.errors import error_code
from elava.catalogue.expressions import extract
from elava.catalogue.types import ParentListing, ResourceType


def items_of(page: dict[str, Any], result_path: str, item_key: str | None) -> list[dict[str, Any]]:
    """The items of one page; scalars (names, ARNs) become ``{item_key: value}``."""
    items = extract(page, result_path) or []
    if item_key is None:
        return [dict(item) for item in items]
    return [{item_key: item} if not isinstance(item, dict) else dict(item) for item in items]


def _child_params(rt: ResourceType, parent: ParentListing, parent_item: dict[str, Any]) -> dict[str, Any]:
    return bound_params(rt.list_params, parent.child_params, parent_item, f"{rt.name}: a {parent.operation} item")


async def _children(caller: AwsCaller, home: BoundClient, rt: ResourceType, parent: ParentListing,
                    parent_item: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
    params = _child_params(rt, parent, parent_item)
    try:
        async with aclosing(caller.pages(home, rt.list_operation, params)) as pages:
            async for page in pages:
                yield [{**item, parent.store_as: parent_item}
                       for item in items_of(page, rt.result_path, rt.item_key)]
    except ClientError as exc:
        if error_code(exc) not in parent.gone_errors:
            raise  # the parent went between the two listings: it has no children


async def listed_pages(caller: AwsCaller, home: BoundClient, rt: ResourceType) -> AsyncIterator[list[dict[str, Any]]]:
    """Each page of the type's items, as plain dicts."""
    if rt.parent is None:
        async with aclosing(caller.pages(home, rt.list_operation, dict(rt.list_params))) as pages:
            async for page in pages:
                yield items_of(page, rt.result_path, rt.item_key)
        return
    parent = rt.parent
    async with aclosing(caller.pages(home, parent.operation, dict(parent.params))) as parent_pages:
        async for parent_page in parent_pages:
            for parent_item in items_of(parent_page, parent.result_path, parent.item_key):
                async with aclosing(_children(caller, home, rt, parent, parent_item)) as children:
                    async for items in children:
                        yield items
