"""A resource type is data, not code (Cloud Custodian's ``TypeInfo`` habit).

A `ResourceType` says which API lists the type, where the items sit in the answer,
which field is the id, how the ARN is formed, where the tags come from, which extra
calls complete an item (`DetailCall`) and which attributes are worth keeping. The
generic scanner does the paging, the calls and the shaping; a family module
(`compute.py`, `storage.py`, ...) declares its types and registers them.

Expressions (``result_path``, ``id_field``, attribute paths, ...) are JMESPath, the
language botocore's own paginators use: ``Reservations[].Instances[]``, ``State.Name``,
``sort(SecurityGroups[].GroupId)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from collectors.aws.normalize import compile_check
from collectors.exceptions import InvalidResourceType

GLOBAL_CLIENT_REGION = "us-east-1"  # where per-account ("global") listings are asked

Transform = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
"""``transform(attributes, raw_item) -> attributes``: normalise what the paths picked."""

_TYPE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+(-[a-z0-9]+)*$")
_TAG_SOURCE = re.compile(r"^(inline|detail):([A-Za-z0-9_]+)$")


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _check_expressions(owner: str, *expressions: str | None) -> None:
    for expression in expressions:
        if not expression:
            continue
        try:
            compile_check(expression)
        except ValueError as exc:  # jmespath's ParseError is a ValueError
            raise InvalidResourceType(f"{owner}: bad expression {expression!r}: {exc}") from None


@dataclass(frozen=True)
class DetailCall:
    """One extra call per listed item; its answer is stored in the item as ``store_as``.

    ``params`` maps request parameters to expressions on the listed item
    (``{"Bucket": "Name"}``); ``static_params`` are sent as they are. AWS answers
    "not configured" with an error for some settings (``NoSuchTagSet``): those codes
    are listed in ``none_errors`` and give ``default`` instead of failing the scan.
    """

    operation: str
    params: Mapping[str, str]
    store_as: str
    result_path: str | None = None
    static_params: Mapping[str, Any] = field(default_factory=dict)
    none_errors: frozenset[str] = frozenset()
    default: Any = None
    convert: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "static_params", _frozen(self.static_params))
        object.__setattr__(self, "none_errors", frozenset(self.none_errors))
        _check_expressions(f"detail call {self.operation}", *self.params.values(), self.result_path)


@dataclass(frozen=True)
class ResourceType:
    """Everything the generic scanner needs to know about one AWS resource type.

    - ``arn_field`` (an expression on the item) wins when AWS returns the ARN;
      otherwise ``arn_template`` is formatted with ``partition``, ``region``,
      ``account`` and ``id``.
    - ``tags_from``: ``"inline:<Field>"`` (the listing carries the tags) or
      ``"detail:<store_as>"`` (a detail call fetches them).
    - ``global_service``: listed once per account (scope ``global``, asked in
      us-east-1). ``region_detail`` then finds where each resource really lives;
      the other details are asked in that region.
    - ``absent_when(item)``: listed but gone (a terminated instance); treated as not
      observed, so the worker records a deletion.
    - ``secret_fields``: attribute paths redacted before anything leaves the
      collector (on top of the keys that name secrets, see `collectors.redact`).
    """

    name: str
    service: str
    list_operation: str
    result_path: str
    id_field: str
    arn_template: str | None = None
    arn_field: str | None = None
    list_params: Mapping[str, Any] = field(default_factory=dict)
    name_field: str | None = None
    name_tag: str | None = "Name"
    tags_from: str | None = None
    global_service: bool = False
    region_detail: DetailCall | None = None
    details: tuple[DetailCall, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    transform: Transform | None = None
    absent_when: Callable[[dict[str, Any]], bool] | None = None
    secret_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "list_params", _frozen(self.list_params))
        object.__setattr__(self, "attributes", _frozen(self.attributes))
        object.__setattr__(self, "details", tuple(self.details))
        object.__setattr__(self, "secret_fields", tuple(self.secret_fields))
        self._check()

    def _fail(self, why: str) -> None:
        raise InvalidResourceType(f"resource type {self.name!r}: {why}")

    def _check(self) -> None:
        if not _TYPE_NAME.match(self.name):
            self._fail("name must look like 'service.kind' (lower case, e.g. ec2.instance)")
        if not (self.arn_field or self.arn_template):
            self._fail("needs an arn_field or an arn_template")
        if self.region_detail and not self.global_service:
            self._fail("region_detail only makes sense for a global_service type")
        stored = [detail.store_as for detail in self.all_details()]
        if len(stored) != len(set(stored)):
            self._fail(f"two detail calls store into the same field: {stored}")
        self._check_tags_from(set(stored))
        _check_expressions(f"resource type {self.name!r}", self.result_path, self.id_field, self.arn_field,
                           self.name_field, *self.attributes.values())

    def _check_tags_from(self, stored: set[str]) -> None:
        if self.tags_from is None:
            return
        match = _TAG_SOURCE.match(self.tags_from)
        if not match:
            self._fail(f"tags_from {self.tags_from!r} must be 'inline:<Field>' or 'detail:<store_as>'")
        if match.group(1) == "detail" and match.group(2) not in stored:
            self._fail(f"tags_from {self.tags_from!r} names no detail call (have: {sorted(stored)})")

    def all_details(self) -> tuple[DetailCall, ...]:
        return ((self.region_detail,) if self.region_detail else ()) + self.details

    @property
    def tags_field(self) -> str | None:
        """The item field holding the tags once the details are in."""
        return self.tags_from.split(":", 1)[1] if self.tags_from else None
