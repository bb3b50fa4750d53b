"""From one listed item (plus its detail answers) to a normalised `Resource`.

Pure: no AWS calls here, so every type's shaping can be tested on plain dicts.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.normalize import tags_to_dict, to_json_safe
from collectors.exceptions import MalformedResponse
from elava.catalogue.arns import partition_for
from elava.catalogue.expressions import extract
from elava.catalogue.types import DetailCall, ResourceType
from elava.events import Resource


def bound_params(fixed: dict[str, Any], expressions: dict[str, str], item: dict[str, Any],
                 what: str) -> dict[str, Any]:
    """``fixed`` plus each parameter read from ``item``; ``what`` names the item in errors."""
    params = dict(fixed)
    for param, expression in expressions.items():
        value = extract(item, expression)
        if value is None:
            raise MalformedResponse(f"{what} has no {expression!r} for {param}")
        params[param] = value
    return params


def detail_params(detail: DetailCall, item: dict[str, Any]) -> dict[str, Any]:
    return bound_params(detail.static_params, detail.params, item, f"{detail.operation}: the listed item")


def detail_value(detail: DetailCall, response: dict[str, Any]) -> Any:
    """What a detail keeps of one answer (``convert`` is the caller's, applied last)."""
    if detail.result_path:
        return extract(response, detail.result_path)
    return {key: val for key, val in response.items() if key != "ResponseMetadata"}


def resource_id(rt: ResourceType, item: dict[str, Any]) -> str:
    value = extract(item, rt.id_field)
    if value in (None, ""):
        raise MalformedResponse(f"{rt.name}: a listed item has no id at {rt.id_field!r}")
    return str(value)


def resource_arn(rt: ResourceType, item: dict[str, Any], *, rid: str, account: str, region: str,
                 partition: str) -> str:
    if rt.arn_field:
        arn = extract(item, rt.arn_field)
        if arn:
            return str(arn)
    if rt.arn_template is None:
        raise MalformedResponse(f"{rt.name}: item {rid} has no {rt.arn_field!r} and the type has no arn_template")
    return rt.uid_for(rid, account=account, region=region, partition=partition)


def resource_name(rt: ResourceType, item: dict[str, Any], tags: dict[str, str]) -> str | None:
    if rt.name_field:
        value = extract(item, rt.name_field)
        if value not in (None, ""):
            return str(value)
    return tags.get(rt.name_tag) if rt.name_tag else None


def resource_attributes(rt: ResourceType, item: dict[str, Any]) -> dict[str, Any]:
    attributes = {name: extract(item, expression) for name, expression in rt.attributes.items()}
    if rt.transform:
        attributes = rt.transform(attributes, item)
    return to_json_safe(attributes)


def build_resource(rt: ResourceType, item: dict[str, Any], *, account: str, region: str,
                   partition: str | None = None) -> Resource:
    """``item`` is the listed item with each detail's answer stored under its ``store_as``."""
    rid = resource_id(rt, item)
    tags = tags_to_dict(extract(item, rt.tags_path)) if rt.tags_path else {}
    partition = partition or partition_for(region)
    return Resource(
        uid=resource_arn(rt, item, rid=rid, account=account, region=region, partition=partition),
        type=rt.name,
        id=rid,
        account=account,
        region=region,
        name=resource_name(rt, item, tags),
        tags=tags,
        attributes=resource_attributes(rt, item),
    )
