"""Patterns across resources, over changes of many partitions.

- ``recreated`` under the same name with a new id: a resource deleted and another of the
  same account, region, type and name created within ``recreated_within`` of it
  (Terraform's replace, create-before-destroy or not);
- ``burst``: one actor (as CloudTrail names it) changed ``burst_changes`` or more
  resources within ``burst_window``.

The rules work on ``FleetItem``s — one change each, taken from a stored version (`elava
patterns`, ``/v1/patterns``, the embedded driver) or from an attributed change on Kafka
(the fleet-pattern stage, streams/drivers/worker/fleet_stage.py, through window.py) — so both drivers
raise the same events under the same ids. Each event is *completed* by one change (the
later of a recreation's two; the change that brings a burst to ``burst_changes``) and is
raised for the window holding that change; what it needs lies at most ``lookback``
before it, so a window read from that far back finds it again, whole.

A burst is raised once per episode: by the first moment at which the actor's changes of
the ``burst_window`` ending there touch ``burst_changes`` resources, and not again while
some moment of the ``burst_window`` before it already did. Its evidence is every change
of that window (all changes made at that same moment included).
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elava.analyzer_events import PatternEvent, PatternEvidence
from elava.events import SCHEMA_VERSION, AttributedChange, ChangeEvent, Resource, view_of
from elava.settings import PatternSettings
from streams.analyzers.patterns import actor_of, span
from streams.store.records import Version
from streams.store.versioned import VersionStore, from_micros, to_micros

NamedVersion = tuple[Version, dict[str, Any]]  # a version and the resource it is about
Micros = int
# What FleetItem reads of an attributed change (the resource's attributes and the diff, most
# of the message, are skipped): see FleetItem.from_bytes.
_CHANGE_READ = view_of(ChangeEvent, ["uid", "type", "account", "region", "kind", "new_version", "observed_at",
                                     "resource"], resource=view_of(Resource, ["id", "name"]) | None)
_ATTRIBUTED_READ = view_of(AttributedChange, ["schema_version", "change", "actor", "confidence", "provisional"],
                           change=_CHANGE_READ)


@dataclass(frozen=True)
class FleetItem:
    """One change as the fleet rules see it: which version, when, of what, by whom."""

    uid: str
    version: int
    kind: str
    at: Micros  # when the version began (the change's observed_at)
    type: str
    account: str
    region: str
    name: str | None
    id: str
    trail_actor: str | None = None  # the actor's arn (or name) when CloudTrail named it: what bursts count
    shown_actor: str | None = None  # who attribution names, however sure (shown in evidence)

    @property
    def order(self) -> tuple[int, str, int]:
        return self.at, self.uid, self.version

    @property
    def name_key(self) -> tuple[str, ...] | None:
        return (self.account, self.region, self.type, self.name) if self.name else None

    def evidence(self, detail: str | None = None) -> PatternEvidence:
        return PatternEvidence(uid=self.uid, version=self.version, kind=self.kind, at=from_micros(self.at),
                               actor=self.shown_actor, detail=detail)

    @classmethod
    def from_version(cls, version: Version, subject: dict[str, Any]) -> FleetItem:
        return cls(uid=version.uid, version=version.version, kind=version.kind, at=version.valid_from,
                   type=subject["type"], account=subject["account"], region=subject["region"],
                   name=subject.get("name"), id=subject.get("id") or version.uid,
                   trail_actor=_trail_actor(version.attribution or {}), shown_actor=actor_of(version))

    @classmethod
    def from_bytes(cls, data: bytes) -> FleetItem:
        """From a record of elava.attributed-changes, reading only the fields above: bytes those
        do not hold raise the SchemaError ``AttributedChange.from_bytes`` gives (the same dead
        letter as before). A record broken only in what is skipped (its diff, say) still makes
        an item here; the policy stage, which reads all of it, dead-letters it."""
        try:
            read = _ATTRIBUTED_READ.model_validate_json(data)
        except ValueError:
            read = None
        if read is None or read.schema_version != SCHEMA_VERSION:
            return cls.from_attributed(AttributedChange.from_bytes(data))  # says what is wrong
        return cls.from_attributed(read)  # type: ignore[arg-type] - the same fields, as declared

    @classmethod
    def from_attributed(cls, attributed: AttributedChange) -> FleetItem:
        """From elava.attributed-changes: a deletion carries the resource last seen alive."""
        change, actor = attributed.change, attributed.actor
        resource = change.resource
        shown = (actor.name or actor.arn) if attributed.confidence > 0 else None
        trail = (actor.arn or actor.name) if not attributed.provisional and attributed.confidence > 0 else None
        return cls(uid=change.uid, version=change.new_version, kind=change.kind, at=to_micros(change.observed_at),
                   type=change.type, account=change.account, region=change.region,
                   name=resource.name if resource else None, id=resource.id if resource else change.uid,
                   trail_actor=trail, shown_actor=shown)


def _trail_actor(record: dict[str, Any]) -> str | None:
    actor = record.get("actor") or {}
    if record.get("method") != "cloudtrail" or (record.get("confidence") or 0) <= 0:
        return None  # a burst is told by CloudTrail, not guessed from tags
    return actor.get("arn") or actor.get("name")


def lookback(settings: PatternSettings) -> timedelta:
    """How far before the change that completes a pattern its evidence can lie (a burst's
    episode check looks one window further back than its own window)."""
    return max(settings.recreated_within, 2 * settings.burst_window)


# -- over a window -----------------------------------------------------------------------


def fleet_items(items: Iterable[FleetItem], completing: Iterable[FleetItem],
                settings: PatternSettings) -> list[PatternEvent]:
    """The patterns completed by ``completing``, judged against every item of ``items`` (which
    holds them, and should reach ``lookback`` before the earliest)."""
    every, done = list(items), list(completing)
    return recreated_by_name(every, done, settings) + bursts(every, done, settings)


def recreated_by_name(items: Sequence[FleetItem], completing: Iterable[FleetItem],
                      settings: PatternSettings) -> list[PatternEvent]:
    by_name: dict[tuple[str, ...], list[FleetItem]] = {}
    for item in items:
        if is_named_lifecycle(item):
            by_name.setdefault(item.name_key, []).append(item)
    return recreated_among(lambda name: by_name.get(name, ()), completing, settings)


def is_named_lifecycle(item: FleetItem) -> bool:
    """A named creation or deletion: what a recreation pairs."""
    return item.kind in ("created", "deleted") and item.name_key is not None


def recreated_among(named: Callable[[tuple[str, ...]], Iterable[FleetItem]], completing: Iterable[FleetItem],
                    settings: PatternSettings) -> list[PatternEvent]:
    """The recreations ``completing`` completes; ``named(name_key)``: the named creations and
    deletions kept under that name, in the order they came."""
    within = settings.recreated_within / timedelta(microseconds=1)
    found = []
    for item in sorted(set(completing), key=lambda i: i.order):
        for other in named(item.name_key) if item.name_key else ():
            pair = (other, item) if item.kind == "created" else (item, other)
            gone, new = pair
            if (gone.kind, new.kind) != ("deleted", "created") or gone.uid == new.uid:
                continue
            if other.order < item.order and abs(new.at - gone.at) <= within:
                found.append(_recreated(gone, new))
    return found


def _recreated(old: FleetItem, new: FleetItem) -> PatternEvent:
    gap = abs(new.at - old.at)
    summary = (f"{new.type} {new.name} re-created with a new id ({new.id}); the old one was deleted "
               f"{span(gap)} {'before' if old.at <= new.at else 'after'}")
    return PatternEvent(pattern="recreated", uid=new.uid, type=new.type, account=new.account, region=new.region,
                        name=new.name, subject=f"name {new.name}", summary=summary,
                        evidence=[old.evidence("deleted"), new.evidence("created")],
                        detected_at=from_micros(max(new.at, old.at)))


def bursts(items: Sequence[FleetItem], completing: Iterable[FleetItem],
           settings: PatternSettings) -> list[PatternEvent]:
    by_actor: dict[str, list[FleetItem]] = {}
    for item in items:
        if item.trail_actor is not None:
            by_actor.setdefault(item.trail_actor, []).append(item)
    for made in by_actor.values():
        made.sort(key=lambda i: i.order)
    return bursts_among(by_actor.__getitem__, completing, settings)


def bursts_among(made_by: Callable[[str], Sequence[FleetItem]], completing: Iterable[FleetItem],
                 settings: PatternSettings) -> list[PatternEvent]:
    """The bursts ``completing`` completes; ``made_by(actor)``: the actor's changes kept, in order."""
    window = settings.burst_window / timedelta(microseconds=1)
    moments = sorted({(item.trail_actor, item.at) for item in completing if item.trail_actor is not None})
    found = []
    for actor, at in moments:
        made = made_by(actor)
        if _opens(made, at, window, settings.burst_changes):
            found.append(_burst(actor, _within(made, at, window)))
    return found


def _at(item: FleetItem) -> Micros:
    return item.at


def _within(made: Sequence[FleetItem], at: Micros, window: float) -> list[FleetItem]:
    """The actor's changes of the window ending at ``at`` (inclusive at both ends; ``made`` in order)."""
    return list(made[bisect_left(made, at - window, key=_at):bisect_right(made, at, key=_at)])


def _opens(made: Sequence[FleetItem], at: Micros, window: float, least: int) -> bool:
    """Whether a burst episode begins at ``at``: its window reaches ``least`` resources and no
    earlier moment of that window did (that one began the episode)."""
    def reaches(moment: Micros) -> bool:
        return len({item.uid for item in _within(made, moment, window)}) >= least

    earlier = sorted({item.at for item in _within(made, at, window) if item.at < at})
    return reaches(at) and not any(reaches(moment) for moment in earlier)


def _burst(actor: str, run: list[FleetItem]) -> PatternEvent:
    first, last = run[0], run[-1]
    types = Counter(item.type for item in run)
    regions = sorted({item.region for item in run})
    who = first.shown_actor or actor
    summary = (f"{who} changed {len({item.uid for item in run})} resources in {span(last.at - first.at)} (" +
               ", ".join(f"{name} ×{count}" for name, count in sorted(types.items())) + ")")
    return PatternEvent(pattern="burst", uid=actor, type="actor", account=first.account,
                        region=regions[0] if len(regions) == 1 else "multiple", name=who, subject=actor,
                        summary=summary, evidence=[item.evidence(item.kind) for item in run],
                        detected_at=from_micros(last.at))


# -- from the store ----------------------------------------------------------------------


def window_versions(store: VersionStore, since: datetime, until: datetime) -> list[NamedVersion]:
    """Every version that began in ``[since, until]`` with its subject (a deletion: the last alive)."""
    found = []
    for entry in store.changed_between(to_micros(since), to_micros(until) + 1):
        version = store.get_version(entry.uid, entry.version)
        if version is None:
            continue  # dropped by retention while we read
        subject = version.resource
        if subject is None and version.version > 1:
            previous = store.get_version(version.uid, version.version - 1)
            subject = previous.resource if previous else None
        if subject is not None:
            found.append((version, subject))
    return found


def fleet_patterns(store: VersionStore, since: datetime, until: datetime,
                   settings: PatternSettings | None = None) -> list[PatternEvent]:
    """The patterns completed by a change of ``[since, until]`` (their evidence may be older)."""
    return patterns_across(fleet_inputs(store, since, until, settings), since, settings)


def fleet_inputs(store: VersionStore, since: datetime, until: datetime,
                 settings: PatternSettings | None = None) -> list[FleetItem]:
    """The changes of ``[since - lookback, until]`` a pattern across resources could use: named
    creations and deletions, changes CloudTrail names an actor for. A worker sends those of its
    partitions, so that another finds the patterns on the whole group's (streams/store/merge.py)."""
    settings = settings or PatternSettings()
    items = (FleetItem.from_version(v, s) for v, s in window_versions(store, since - lookback(settings), until))
    return [item for item in items
            if (item.kind in ("created", "deleted") and item.name_key) or item.trail_actor]


def patterns_across(items: Sequence[FleetItem], since: datetime,
                    settings: PatternSettings | None = None) -> list[PatternEvent]:
    """The patterns completed by an item at or after ``since`` (``items`` in time order,
    reaching ``lookback`` before it)."""
    low = to_micros(since)
    return fleet_items(items, [item for item in items if item.at >= low], settings or PatternSettings())


def item_json(item: FleetItem) -> dict[str, Any]:
    return dataclasses.asdict(item)


def item_from_json(found: dict[str, Any]) -> FleetItem:
    return FleetItem(**found)


def completed_by(store: VersionStore, changes: Sequence[ChangeEvent],
                 settings: PatternSettings | None = None) -> list[PatternEvent]:
    """The patterns these stored changes complete (the embedded driver, once a scan is done)."""
    if not changes:
        return []
    settings = settings or PatternSettings()
    since, until = min(c.observed_at for c in changes), max(c.observed_at for c in changes)
    items = [FleetItem.from_version(v, s) for v, s in window_versions(store, since - lookback(settings), until)]
    made = {(c.uid, c.new_version) for c in changes}
    return fleet_items(items, [item for item in items if (item.uid, item.version) in made], settings)
