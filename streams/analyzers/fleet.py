"""Patterns across resources, read from the store's versions of a time window.

- ``recreated`` under the same name with a new id: a resource deleted and another of the
  same account, region, type and name created within ``recreated_within`` of it
  (Terraform's replace, create-before-destroy or not);
- ``burst``: ``burst_changes`` or more resources changed by one actor (as CloudTrail
  names it) within ``burst_window``.

Unlike the patterns of one resource (patterns.py), these need every partition: a
resource's versions live in its own shard. They are computed when asked (`elava
patterns`, ``/v1/patterns``) from what the store holds — in a worker, the partitions it
holds — and are not published on ``elava.patterns``. Their ids are deterministic, so the
same window gives the same events.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from elava.analyzer_events import PatternEvent
from elava.settings import PatternSettings
from streams.analyzers.patterns import evidence, span
from streams.store.versioned import Version, VersionStore, from_micros, to_micros

NamedVersion = tuple[Version, dict[str, Any]]  # a version and the resource it is about


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
    return patterns_across(window_versions(store, since, until), settings)


def patterns_across(versions: list[NamedVersion], settings: PatternSettings | None = None) -> list[PatternEvent]:
    """The patterns across resources in ``versions`` (in the time index's order)."""
    settings = settings or PatternSettings()
    return recreated_by_name(versions, settings) + bursts(versions, settings)


def fleet_inputs(store: VersionStore, since: datetime, until: datetime) -> list[NamedVersion]:
    """The window's versions a pattern across resources could use: named creations and
    deletions, changes CloudTrail names an actor for. A worker sends those of its partitions,
    so that another finds the patterns on the whole group's (streams/store/merge.py)."""
    return [(version, subject) for version, subject in window_versions(store, since, until)
            if (version.kind in ("created", "deleted") and _name_key(subject)) or _actor_key(version)]


def named_json(pair: NamedVersion) -> dict[str, Any]:
    version, subject = pair
    return {"version": dataclasses.asdict(version), "subject": subject}


def named_from_json(found: dict[str, Any]) -> NamedVersion:
    return Version(**found["version"]), found["subject"]


def time_order(pair: NamedVersion) -> tuple[int, str, int]:
    """The time index's order (window_versions reads in it)."""
    return pair[0].valid_from, pair[0].uid, pair[0].version


def _name_key(subject: dict[str, Any]) -> tuple[str, ...] | None:
    name = subject.get("name")
    return (subject["account"], subject["region"], subject["type"], name) if name else None


def recreated_by_name(versions: list[NamedVersion], settings: PatternSettings) -> list[PatternEvent]:
    within = settings.recreated_within / timedelta(microseconds=1)
    gone: dict[tuple[str, ...], list[Version]] = {}
    for version, subject in versions:
        if version.deleted and (key := _name_key(subject)) is not None:
            gone.setdefault(key, []).append(version)
    found = []
    for version, subject in versions:
        key = _name_key(subject)
        if version.kind != "created" or key is None:
            continue
        for old in gone.get(key, []):
            if old.uid != version.uid and abs(version.valid_from - old.valid_from) <= within:
                gap = abs(version.valid_from - old.valid_from)
                summary = (f"{subject['type']} {subject['name']} re-created with a new id ({subject['id']}); the "
                           f"old one was deleted {span(gap)} {'before' if old.valid_from <= version.valid_from else 'after'}")
                found.append(PatternEvent(
                    pattern="recreated", uid=version.uid, type=subject["type"], account=subject["account"],
                    region=subject["region"], name=subject["name"], subject=f"name {subject['name']}",
                    summary=summary, evidence=[evidence(old, "deleted"), evidence(version, "created")],
                    detected_at=from_micros(max(version.valid_from, old.valid_from))))
    return found


def _actor_key(version: Version) -> str | None:
    record = version.attribution or {}
    actor = record.get("actor") or {}
    if record.get("method") != "cloudtrail" or (record.get("confidence") or 0) <= 0:
        return None  # a burst is told by CloudTrail, not guessed from tags
    return actor.get("arn") or actor.get("name")


def bursts(versions: list[NamedVersion], settings: PatternSettings) -> list[PatternEvent]:
    window = settings.burst_window / timedelta(microseconds=1)
    by_actor: dict[str, list[NamedVersion]] = {}
    for version, subject in versions:
        if (key := _actor_key(version)) is not None:
            by_actor.setdefault(key, []).append((version, subject))
    found = []
    for actor, made in sorted(by_actor.items()):
        made.sort(key=lambda pair: (pair[0].valid_from, pair[0].uid))
        found.extend(_clusters(actor, made, window, settings.burst_changes))
    return found


def _clusters(actor: str, made: list[NamedVersion], window: float, least: int) -> Iterable[PatternEvent]:
    """Greedy, in time order: the first run of changes within ``window`` touching ``least`` resources."""
    start = 0
    while start < len(made):
        end = start
        while end + 1 < len(made) and made[end + 1][0].valid_from - made[start][0].valid_from <= window:
            end += 1
        run = made[start:end + 1]
        if len({version.uid for version, _ in run}) >= least:
            yield _burst(actor, run)
            start = end + 1
        else:
            start += 1


def _burst(actor: str, run: list[NamedVersion]) -> PatternEvent:
    first, last = run[0], run[-1]
    types = Counter(subject["type"] for _, subject in run)
    regions = sorted({subject["region"] for _, subject in run})
    who = evidence(first[0]).actor or actor
    summary = (f"{who} changed {len({v.uid for v, _ in run})} resources in "
               f"{span(last[0].valid_from - first[0].valid_from)} (" +
               ", ".join(f"{name} ×{count}" for name, count in sorted(types.items())) + ")")
    return PatternEvent(pattern="burst", uid=actor, type="actor", account=first[1]["account"],
                        region=regions[0] if len(regions) == 1 else "multiple", name=who, subject=actor,
                        summary=summary, evidence=[evidence(v, v.kind) for v, _ in run],
                        detected_at=from_micros(last[0].valid_from))
