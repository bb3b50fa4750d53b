"""Relationships: what a resource uses, declared on its type, resolved to uids.

A type declares its edges (`Edge`): a name (``subnet``, ``security-groups``), the type
they point at and a JMESPath on the resource's *attributes* that gives the ids or
ARNs (``subnet_id``, ``security_groups``). Reading the published attributes, not the
raw AWS answer, means an edge can be resolved from any stored version, and that
what it points at is a fact the resource shows.

An id becomes a uid with the target type's ``uid_for`` in the resource's own account
and region (a global type ignores the region), and kept only if the type reads that uid
back as its own (``alias/aws/sqs`` is no key id); an ARN is read with the target type's
``arn_match``, so a listener's or a qualified function's ARN names its resource. An
edge without a target type (an instance profile, which Elava does not collect) keeps
the ARN it finds, and ignores anything that is not one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from elava.catalogue.arns import Arn, partition_for
from elava.catalogue.exceptions import InvalidResourceType, UnknownResourceType
from elava.catalogue.expressions import Search, compile_check, searcher

_EDGE_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

Edges = dict[str, list[str]]
"""``{"subnet": [uid], "security-groups": [uid, uid]}``: a resource's edges by name, uids sorted."""


@dataclass(frozen=True)
class Edge:
    """``Edge("subnet", "ec2.subnet", "subnet_id")``: the resource uses what ``path`` names.

    ``target`` None: an AWS resource of a kind Elava does not collect, named by ARN.
    """

    name: str
    target: str | None
    path: str

    def __post_init__(self) -> None:
        if not _EDGE_NAME.match(self.name):
            raise InvalidResourceType(f"edge {self.name!r}: a name is lower-case words joined by '-'")
        try:
            compile_check(self.path)
        except ValueError as exc:
            raise InvalidResourceType(f"edge {self.name!r}: bad path {self.path!r}: {exc}") from None


def uses(name: str, target: str | None, path: str) -> Edge:
    return Edge(name, target, path)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


_RESOLVED_KEPT = 65536  # uids kept per edge: subnets and groups recur across resources


@dataclass(frozen=True)
class _EdgePlan:
    """One declared edge ready to read: its attribute reader and the uids its values resolved to."""

    edge: Edge
    read: Search
    resolved: dict[tuple[str, str, str], str | None]

    def uids(self, attributes: Mapping[str, Any], account: str, region: str) -> list[str]:
        value = self.read(attributes)
        if isinstance(value, str):  # most edges name one thing: no set, no sort
            uid = self._uid(value, account, region) if value else None
            return [] if uid is None else [uid]
        found = set()
        for item in _strings(value):
            uid = self._uid(item, account, region)
            if uid is not None:
                found.add(uid)
        return sorted(found)

    def _uid(self, item: str, account: str, region: str) -> str | None:
        key = (item, account, region)
        uid = self.resolved.get(key, _UNKNOWN)
        if uid is _UNKNOWN:
            if len(self.resolved) >= _RESOLVED_KEPT:
                self.resolved.clear()
            uid = self.resolved[key] = _resolve(self.edge, item, account, region)
        return uid  # type: ignore[return-value]


_UNKNOWN = object()


@functools.cache
def _plans(type_name: str) -> tuple[_EdgePlan, ...]:
    from elava.catalogue import registry  # the registry imports the family modules, which import this

    try:
        declared = registry.get(type_name).edges
    except UnknownResourceType:
        return ()
    return tuple(_EdgePlan(edge, searcher(edge.path), {}) for edge in declared)


def resolve(edge: Edge, value: str, *, account: str, region: str) -> str | None:
    """The uid ``value`` (an id or an ARN) names through ``edge``; None if it names nothing of its type."""
    return _resolve(edge, value, account, region)


def _resolve(edge: Edge, value: str, account: str, region: str) -> str | None:
    from elava.catalogue import registry  # the registry imports the family modules, which import this

    if value.startswith("arn:"):
        arn = Arn.parse(value)
        if arn is None:
            return None
        return value if edge.target is None else registry.get(edge.target).uid_from_arn(arn, value)
    if edge.target is None:
        return None
    target = registry.get(edge.target)
    if target.arn_template is None:
        return None  # its uid is AWS's ARN, which an id alone does not give
    rid = value.lower() if target.lower_case_ids else value
    uid = target.uid_for(rid, account=account, region=region, partition=partition_for(region))
    # Not an id of the type at all (a KMS alias where a key id may stand): its uid does not read back.
    arn = Arn.parse(uid)
    return uid if arn is not None and target.uid_from_arn(arn, uid) == uid else None


_ROOT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:$|\.|\[)")


@functools.cache
def edge_fields(type_name: str) -> frozenset[str] | None:
    """The attributes the edges of ``type_name`` read (None: one reads beyond a single attribute,
    e.g. through a function): a change to none of them leaves its edges as they were."""
    from elava.catalogue import registry

    try:
        declared = registry.get(type_name).edges
    except UnknownResourceType:
        return frozenset()
    roots = [_ROOT.match(edge.path) for edge in declared]
    return None if any(root is None for root in roots) else frozenset(root.group(1) for root in roots)


def edges_of(resource: Mapping[str, Any] | None) -> Edges:
    """The edges of one resource (a stored version's ``resource``), by the declaration of its type."""
    if not resource:
        return {}
    plans = _plans(str(resource.get("type")))
    if not plans:
        return {}
    attributes = resource.get("attributes") or {}
    account, region = str(resource.get("account") or ""), str(resource.get("region") or "")
    found: Edges = {}
    for plan in plans:
        uids = plan.uids(attributes, account, region)
        if uids:
            found[plan.edge.name] = uids
    return found
