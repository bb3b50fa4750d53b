"""One resource by its id, built exactly as a scan builds it (the executor's fresh look).

The type's `Lookup` says how to ask for that id alone; the rest is the scanner's own
path: describe, ``absent_when``, detail calls, `build_resource`, redaction. So the
policy the executor re-evaluates sees the resource in the very shape the pipeline
gave it, with its tags and attributes as AWS shows them now.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from collectors.aws.build import build_resource, resource_id
from collectors.aws.calls import AwsCaller, BoundClient, ClientPool
from collectors.aws.complete import complete_entries
from collectors.aws.details import Entry, account_values
from collectors.aws.errors import error_code
from collectors.aws.listing import items_of
from collectors.aws.scanner import client_region
from collectors.redact import Redactor
from elava.catalogue.arns import partition_for
from elava.catalogue.exceptions import InvalidResourceType
from elava.catalogue.types import Lookup, ResourceType
from elava.events import Resource
from elava.sharding import GLOBAL_REGION


async def describe_resource(clients: ClientPool, caller: AwsCaller, rt: ResourceType, *, account: str,
                            region: str, rid: str, redactor: Redactor) -> Resource | None:
    """The resource ``rid`` of type ``rt`` as AWS shows it now (secrets redacted); None when it is gone."""
    lookup = rt.lookup
    if lookup is None:
        raise InvalidResourceType(f"resource type {rt.name!r} declares no lookup: it cannot be described by id")
    scope = GLOBAL_REGION if rt.global_service else region
    home = await clients.get(rt.service, client_region(scope))
    try:
        items = await _items(caller, home, rt, lookup, rid)
        shared = await account_values(clients, caller, rt, account, home.region) if items else {}
        entries = await complete_entries(clients, caller, rt, [Entry({**item, **shared}, scope, home) for item in items])
    except ClientError as exc:
        if error_code(exc) in lookup.gone_errors:
            return None
        raise
    partition = partition_for(home.region)
    for entry in entries:
        if resource_id(rt, entry.raw) == rid:  # never another resource than the one asked for
            resource = build_resource(rt, entry.raw, account=account, region=entry.region, partition=partition)
            return redactor.resource(resource, rt.secret_fields)
    return None


async def _items(caller: AwsCaller, home: BoundClient, rt: ResourceType, lookup: Lookup,
                 rid: str) -> list[dict[str, Any]]:
    if lookup.id_param is None:
        return [{rt.id_field: rid}]
    params = {**lookup.params, lookup.id_param: [rid] if lookup.as_list else rid}
    items: list[dict[str, Any]] = []
    async for page in caller.pages(home, rt.list_operation, params):
        items += items_of(page, rt.result_path, rt.item_key)
    return items
