"""The pieces of the event-family table (`resources`): a `Call` to read, a `Family` row.

A `Family` names an ``eventSource``, the event names it covers (``PutBucket*`` is a
prefix), the resource types it can touch and an extractor that reads them out of the
call's ``requestParameters`` / ``responseElements`` / ``resources``. Families are
declared with their types in the catalogue (`elava.catalogue.trail`); `Call` is what
their reads see (`elava.catalogue.trail.TrailCall`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collectors.cloudtrail.normalize.arns import Place, from_arn, make
from collectors.cloudtrail.normalize.params import each, lookup
from elava.events import TouchedResource

# Lambda's event names carry the API version ("UpdateFunctionConfiguration20150331v2").
_API_VERSION_SUFFIX = re.compile(r"(\d{8}(v\d+)?|\d{4}_\d{2}_\d{2})$")
_READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "BatchGet", "Search", "Scan", "Query")


@dataclass(frozen=True)
class Call:
    """One record's call, as the extractors read it."""

    source: str
    name: str  # without an API version suffix
    place: Place
    data: Mapping[str, Any]  # {"request": ..., "response": ..., "resources": [...]}

    def ids(self, *paths: str) -> list[str]:
        """Every distinct string at ``paths``: ``request.groupId``, or ``response.instancesSet/instanceId``
        for a field of each item of a list."""
        found = (value for path in paths for value in each(self.data, *path.split("/", 1)))
        return list(dict.fromkeys(found))

    def get(self, path: str) -> Any:
        return lookup(self.data, path)

    def make(self, type_name: str, rid: str, *, account: str | None = None) -> TouchedResource:
        """``rid`` of a template type, in the call's place (``account``: another account's)."""
        return make(type_name, rid, self.place, account=account)

    def from_arn(self, text: str) -> TouchedResource | None:
        return from_arn(text)

    def named(self, type_name: str, *paths: str) -> list[TouchedResource]:
        """Resources named by id or by ARN at ``paths``; ARNs of other types are left out."""
        found = []
        for value in self.ids(*paths):
            touched = from_arn(value) if value.startswith("arn:") else self.make(type_name, value)
            if touched is not None and touched.type == type_name:
                found.append(touched)
        return found

    def by_arn(self, *paths: str) -> list[TouchedResource]:
        """Observed resources among the ARNs at ``paths`` (others, e.g. target groups, left out)."""
        return [touched for value in self.ids(*paths) if (touched := from_arn(value))]


Extractor = Callable[[Call], Iterable[TouchedResource]]


@dataclass(frozen=True)
class Family:
    title: str
    source: str
    events: tuple[str, ...]  # exact names; "Prefix*" for a prefix
    types: tuple[str, ...]
    extract: Extractor
    where: str  # which fields name the resources (for docs/attribution.md)
    exact: frozenset[str] = field(init=False)
    prefixes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exact", frozenset(e for e in self.events if not e.endswith("*")))
        object.__setattr__(self, "prefixes", tuple(e[:-1] for e in self.events if e.endswith("*")))

    def covers(self, source: str, name: str) -> bool:
        return source == self.source and (name in self.exact or any(name.startswith(p) for p in self.prefixes))


def event_base_name(event_name: str) -> str:
    """``DeleteFunction20150331`` -> ``DeleteFunction``; other names stay as they are."""
    return _API_VERSION_SUFFIX.sub("", event_name)


def is_read_only(record: Mapping[str, Any]) -> bool:
    flag = record.get("readOnly")
    if flag is not None:
        return flag is True or str(flag).lower() == "true"
    return str(record.get("eventName") or "").startswith(_READ_ONLY_PREFIXES)


def why_nothing_changed(record: Mapping[str, Any]) -> str | None:
    """"read-only", "failed: <errorCode>", or None for a call that may have changed something."""
    if record.get("errorCode"):
        return f"failed: {record['errorCode']}"
    if is_read_only(record):
        return "read-only"
    return None


