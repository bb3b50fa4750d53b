"""What does this use, and what uses this, as of any time.

Pure core, like `queries`. A version keeps the edges its resource had
(``Version.edges``), so "what did it use at T" is the version valid at T. "What used
it at T" starts from the store's "used by" entries (every resource some kept version
of which had an edge to it) and keeps those whose version valid at T still has the
edge: the entries are a superset, the versions decide.

In the worker, a resource's users may live in any partition (their keys are their own
uids): the query reads the "used by" entries of every partition it holds, one prefix
seek each (see docs/benchmarks.md, "Relationships").

In a group of workers they may live in another worker's partitions: the walk asks for
what it needs a level at a time (relation_walk.py), of one store or of the group.

``depth`` follows each direction on its own: what the resource uses, what those use,
and so on; and what uses it, what uses those. Mixing the two (an instance's subnet,
then every other instance of that subnet) would answer another question.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from streams.store.records import Version
from streams.store.render_json import iso
from streams.store.versioned import VersionStore, to_micros

Direction = Literal["uses", "used_by"]
MAX_DEPTH = 5


@dataclass(frozen=True)
class Link:
    """One related resource: ``via`` --relation--> ``uid`` (uses) or ``uid`` --relation--> ``via`` (used by).

    ``resource`` is its version at the time asked (None: not observed by Elava, or gone by then).
    """

    uid: str
    relation: str
    via: str
    depth: int
    resource: dict[str, Any] | None


@dataclass(frozen=True)
class Relations:
    uid: str
    at: int
    resource: dict[str, Any] | None
    uses: list[Link] = field(default_factory=list)
    used_by: list[Link] = field(default_factory=list)


class RelationQueries:
    def __init__(self, store: VersionStore) -> None:
        self.store = store

    def version_at(self, uid: str, t: int) -> Version | None:
        head = self.store.head_lead(uid)
        return self.store.version_at(head, t) if head is not None else None

    def uses_at(self, uid: str, t: int) -> Iterator[tuple[str, str]]:
        """``(relation, target uid)`` of what ``uid`` used at ``t``."""
        version = self.version_at(uid, t)
        for relation, targets in sorted((version.edges if version else {}).items()):
            for target in targets:
                yield relation, target

    def used_by_at(self, uid: str, t: int) -> Iterator[tuple[str, str]]:
        """``(relation, source uid)`` of what used ``uid`` at ``t``."""
        for source in self.store.users_of(uid):
            version = self.version_at(source, t)
            for relation, targets in sorted((version.edges if version else {}).items()):
                if uid in targets:
                    yield relation, source

    def related(self, uid: str, moment: datetime, depth: int = 1) -> Relations:
        """What ``uid`` used and what used it at ``moment``, ``depth`` steps out in each direction
        (streams/store/relation_walk.py walks it, here over this one store)."""
        from streams.store.relation_walk import related_walk, run_on

        if not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be between 1 and {MAX_DEPTH}")
        return run_on(self.store, related_walk(uid, to_micros(moment), depth))


def _summary(resource: dict[str, Any] | None) -> dict[str, Any]:
    about = resource or {}
    return {"type": about.get("type"), "id": about.get("id"), "name": about.get("name"),
            "account": about.get("account"), "region": about.get("region"), "observed": resource is not None}


def link_json(link: Link) -> dict[str, Any]:
    return {"uid": link.uid, "relation": link.relation, "via": link.via, "depth": link.depth,
            **_summary(link.resource)}


def relations_json(found: Relations) -> dict[str, Any]:
    """One shape for `elava related --output json` and ``/v1/related``."""
    return {"uid": found.uid, "at": iso(found.at), **_summary(found.resource),
            "uses": [link_json(link) for link in found.uses],
            "used_by": [link_json(link) for link in found.used_by]}
