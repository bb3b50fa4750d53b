"""A type's CloudTrail families: which calls change it and where a record names it.

A `TrailFamily` is one ``eventSource``, the event names it covers (``PutBucket*`` is
a prefix) and its reads: where the touched resources sit in the record. Reads are
data wherever they can be:

- `Ids`: ids or ARNs of one type at fixed paths (``response.instancesSet/instanceId``:
  a field of each item of a list), optionally only for some events;
- `Arns`: ARNs of the named types (a tagging call names any of them by ARN);
- `IdPrefixed`: ids that say their type by their prefix (EC2's ``i-``, ``sg-``...),
  typed by each type's ``id_prefix``;
- `Custom`: a small function declared beside the type, for a record that names it in
  a way of its own (a partial ARN, a name without its path). It reads the record
  through `TrailCall` only, so the catalogue needs nothing of attribution.

Paths are read by attribution (``collectors.cloudtrail.normalize.params``): dotted, matched
case-insensitively, through CloudTrail's ``*Request``/``*Response`` wrappers and EC2's
``{"items": [...]}`` lists; ``request``, ``response`` and ``resources`` are the
record's ``requestParameters``, ``responseElements`` and ``resources``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from elava.events import TouchedResource

UNKNOWN_PART = "*"
"""Stands in a uid for what a record cannot tell (an auto scaling group's UUID): the
store resolves such a guess against what it knows (``ResourceType.guessed_from_names``)."""


class Place(Protocol):
    account: str
    region: str

    @property
    def partition(self) -> str: ...


class TrailCall(Protocol):
    """One record's call, as the reads see it (attribution's ``Call``)."""

    name: str  # the event name, without an API version suffix
    place: Place  # the account and region of the call

    def ids(self, *paths: str) -> list[str]: ...

    def get(self, path: str) -> Any: ...

    def make(self, type_name: str, rid: str, *, account: str | None = None) -> TouchedResource: ...

    def named(self, type_name: str, *paths: str) -> list[TouchedResource]: ...

    def by_arn(self, *paths: str) -> list[TouchedResource]: ...

    def from_arn(self, text: str) -> TouchedResource | None: ...


@dataclass(frozen=True)
class Ids:
    """Ids (or ARNs) of ``type`` at ``paths``; ``type`` None is the declaring type.

    ``only_on``: the read applies only to events whose name starts with one of these.
    """

    paths: tuple[str, ...]
    type: str | None = None
    only_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Arns:
    """ARNs at ``paths`` naming resources of ``types`` (others, e.g. target groups, left out)."""

    paths: tuple[str, ...]
    types: tuple[str, ...] = ()  # empty: the declaring type


@dataclass(frozen=True)
class IdPrefixed:
    """Ids at ``paths`` whose prefix (``i-``, ``sg-``) names their type (see ``ResourceType.id_prefix``)."""

    paths: tuple[str, ...]


Extract = Callable[[TrailCall, str], Iterable[TouchedResource]]
"""``extract(call, type_name)``: the resources of the declaring type ``type_name`` the call names."""


@dataclass(frozen=True)
class Custom:
    """A record that names the type its own way; ``paths`` are where it looks first (for
    tests that build a record naming a resource, and for people)."""

    extract: Extract
    paths: tuple[str, ...]
    types: tuple[str, ...] = ()  # what it may touch besides the declaring type


Read = Ids | Arns | IdPrefixed | Custom


@dataclass(frozen=True)
class TrailFamily:
    """One row of the event-family table (docs/attribution.md): ``where`` says it for people."""

    title: str
    source: str  # eventSource: ec2.amazonaws.com
    events: tuple[str, ...]  # exact names; "Prefix*" for a prefix
    reads: tuple[Read, ...]
    where: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "reads", tuple(self.reads))
        if not self.events or not self.reads:
            raise ValueError(f"trail family {self.title!r} needs event names and reads")


def family(title: str, source: str, events: str, *reads: Read, where: str) -> TrailFamily:
    """``family("VPCs", EC2, "CreateVpc DeleteVpc", Ids(...), where=...)``: events split on spaces."""
    return TrailFamily(title, source, tuple(events.split()), reads, where)


def ids(*paths: str, type: str | None = None, only_on: tuple[str, ...] = ()) -> Ids:  # noqa: A002
    return Ids(paths, type, only_on)


def arns(*paths: str, types: tuple[str, ...] = ()) -> Arns:
    return Arns(paths, types)
