"""`related` as a walk that says what it needs next, so one walk serves one store and a group.

A resource, its targets and its users may live in different partitions, so in a group of
workers no one worker can walk the edges alone. The walk (`related_walk`) is written
without I/O: it yields a `Lookup` (the versions of some uids at a time, the users of
others) and is sent back what the store — or every worker, merged — found (`Looked`).
`run_on` drives it over one store; `related_over` over the group (streams/drivers/worker/cluster.py), one
round of questions per level (``depth + 1`` rounds), each asked of every worker for the
partitions it holds. Both build the same `Relations`, in the same order as
`RelationQueries` walks one store: each direction breadth first, each resource once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.store.queries import TemporalQueries
from streams.store.relations import Link, RelationQueries, Relations, relations_json
from streams.store.versioned import VersionStore

Answer = tuple[int, Any]


@dataclass(frozen=True)
class Lookup:
    """What the walk needs: the version of each of ``versions`` valid at ``t`` (its resource
    and edges), the users of each of ``users``, and the uids the id ``resolve`` names."""

    t: int
    versions: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    resolve: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "versions": sorted(self.versions), "users": sorted(self.users), "resolve": self.resolve}

    @classmethod
    def from_json(cls, body: Any) -> Lookup:
        """ValueError for a body that is not a lookup (another worker sent it; trust nothing)."""
        try:
            t, versions, users, ref = int(body["t"]), body.get("versions") or [], body.get("users") or [], body.get("resolve")
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("a lookup is {t, versions, users, resolve}") from None
        if not all(isinstance(uid, str) for uid in [*versions, *users]) or not isinstance(ref, str | None):
            raise ValueError("a lookup names uids as strings")
        return cls(t, frozenset(versions), frozenset(users), ref)


@dataclass
class Looked:
    """What the stores hold of a `Lookup`: versions found (absent: none valid then), users by uid."""

    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"versions": self.versions, "users": self.users, "resolved": self.resolved}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Looked:
        return cls(dict(body["versions"]), {uid: list(found) for uid, found in body["users"].items()},
                   list(body["resolved"]))


def look(store: VersionStore, lookup: Lookup) -> Looked:
    """One store's (one worker's partitions') answer to ``lookup``."""
    relations = RelationQueries(store)
    found = Looked(resolved=TemporalQueries(store).resolve(lookup.resolve) if lookup.resolve else [])
    for uid in sorted(lookup.versions):
        version = relations.version_at(uid, lookup.t)
        if version is not None:
            found.versions[uid] = {"resource": version.resource, "edges": version.edges}
    for uid in sorted(lookup.users):
        users = list(store.users_of(uid))
        if users:
            found.users[uid] = users
    return found


def merge_looked(parts: Iterable[Looked]) -> Looked:
    """The group's answer: a uid's version lives in one partition; its users in many."""
    merged, users = Looked(), {}
    for part in parts:
        merged.versions.update(part.versions)
        for uid, found in part.users.items():
            users.setdefault(uid, set()).update(found)
        merged.resolved.extend(part.resolved)
    merged.users = {uid: sorted(found) for uid, found in users.items()}  # one store's key order
    merged.resolved = sorted(set(merged.resolved))
    return merged


def subject_of(ref: str, resolved: Sequence[str]) -> str | None:
    """The uid ``ref`` names: the one resource it resolves to, or an ARN Elava does not
    observe (an instance profile may still be used by what it does); None otherwise."""
    if len(resolved) == 1:
        return resolved[0]
    return ref if not resolved and ref.startswith("arn:") else None


Walk = Generator[Lookup, Looked, Relations]


def related_walk(uid: str, t: int, depth: int) -> Walk:
    """What ``uid`` used and what used it at ``t``, ``depth`` steps out in each direction."""
    known: dict[str, dict[str, Any] | None] = {}
    users: dict[str, list[str]] = {}
    looked = yield Lookup(t, frozenset({uid}), frozenset({uid}))
    _absorb(known, users, looked, {uid}, {uid})
    uses, used_by = [], []
    frontier, seen = {"uses": [uid], "used_by": [uid]}, {"uses": {uid}, "used_by": {uid}}
    for level in range(1, depth + 1):
        targets = [(relation, target, via) for via in frontier["uses"] for relation, target in _uses(known[via])]
        sources = [(source, via) for via in frontier["used_by"] for source in users.get(via, ())]
        need_versions = {target for _, target, _ in targets} | {source for source, _ in sources}
        need_versions -= known.keys()
        need_users = {source for source, _ in sources} - users.keys() if level < depth else set()
        if need_versions or need_users:
            looked = yield Lookup(t, frozenset(need_versions), frozenset(need_users))
            _absorb(known, users, looked, need_versions, need_users)
        found = [(relation, target, via) for relation, target, via in targets]
        frontier["uses"] = _link(found, level, known, seen["uses"], uses)
        found = [(relation, source, via) for source, via in sources for relation in _relations_to(known[source], via)]
        frontier["used_by"] = _link(found, level, known, seen["used_by"], used_by)
    subject = known[uid]
    return Relations(uid=uid, at=t, resource=subject["resource"] if subject else None, uses=uses, used_by=used_by)


def _absorb(known: dict, users: dict, looked: Looked, versions: set[str], asked_users: set[str]) -> None:
    for uid in versions:
        known[uid] = looked.versions.get(uid)
    for uid in asked_users:
        users[uid] = looked.users.get(uid, [])


def _uses(version: dict[str, Any] | None) -> Iterable[tuple[str, str]]:
    for relation, targets in sorted(((version or {}).get("edges") or {}).items()):
        for target in targets:
            yield relation, target


def _relations_to(version: dict[str, Any] | None, target: str) -> list[str]:
    return [relation for relation, targets in sorted(((version or {}).get("edges") or {}).items()) if target in targets]


def _link(found: list[tuple[str, str, str]], level: int, known: dict, seen: set[str], links: list[Link]) -> list[str]:
    """Each resource once, at its nearest depth; the next level's frontier."""
    following = []
    for relation, uid, via in found:
        if uid in seen:
            continue
        seen.add(uid)
        version = known.get(uid)
        links.append(Link(uid, relation, via, level, version["resource"] if version else None))
        following.append(uid)
    return following


async def related_over(ref: str, t: int, depth: int, looked: Callable[[Lookup], Awaitable[Looked | str]]) -> Answer:
    """The answer of ``/v1/related`` with each lookup asked of a group (``looked``: the
    merged answer of every partition, or why there is none: then 503)."""
    from streams.store.api import unresolved
    from streams.store.merge import incomplete

    found = await looked(Lookup(t, resolve=ref))
    if isinstance(found, str):
        return incomplete(found)
    subject = subject_of(ref, found.resolved)
    if subject is None:
        return unresolved(ref, found.resolved)
    walk = related_walk(subject, t, depth)
    try:
        lookup = next(walk)
        while True:
            found = await looked(lookup)
            if isinstance(found, str):
                return incomplete(found)
            lookup = walk.send(found)
    except StopIteration as done:
        return 200, relations_json(done.value)


def run_on(store: VersionStore, walk: Walk) -> Relations:
    """Drive ``walk`` over one store."""
    try:
        lookup = next(walk)
        while True:
            lookup = walk.send(look(store, lookup))
    except StopIteration as done:
        return done.value
