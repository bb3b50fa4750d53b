"""Lifecycle patterns of one resource, read from its versions in the store.

Run after each change is stored, on the versions up to that change (so a replay finds
the same ones and raises the same event, under the same id). A pattern is raised by
the change that completes it and by no later one (docs/analyzers.md):

- ``recreated``: deleted, then created again under the same uid (a name-keyed ARN: a
  bucket, a role, a function) within ``recreated_within``;
- ``short-lived``: deleted sooner than ``short_lived`` (or ``short_lived_by_type``)
  after it was created;
- ``flapping``: one field changed ``flapping_changes`` times within
  ``flapping_window``, going back to a value it had (or an item added and removed);
- ``schedule``: started (or stopped) in the same UTC hour on ``schedule_days`` days
  within ``schedule_lookback`` (types whose declaration says which states mean it).

Patterns across resources (re-created under the same name with a new id, bursts of
changes by one actor) need every partition: streams/analyzers/fleet.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from elava.analyzer_events import PatternEvent, PatternEvidence
from elava.catalogue.types import Lifecycle
from elava.events import ChangeEvent, FieldChange, canonical_json
from elava.settings import PatternSettings
from streams.analyzers.drift import describe
from streams.analyzers.ignore import IgnoreRules, declared_type
from streams.store.keyspaces import version_key, versions_prefix
from streams.store.records import RecordLead, Version
from streams.store.versioned import VersionStore, from_micros

MICROS = 1_000_000


def actor_of(version: Version) -> str | None:
    """Who attribution says made the version (None while it names nobody)."""
    record = version.attribution or {}
    actor = record.get("actor") or {}
    return (actor.get("name") or actor.get("arn")) if (record.get("confidence") or 0) > 0 else None


def evidence(version: Version, detail: str | None = None) -> PatternEvidence:
    return PatternEvidence(uid=version.uid, version=version.version, kind=version.kind,
                           at=from_micros(version.valid_from), actor=actor_of(version), detail=detail)


def span(micros: int) -> str:
    """``2h 5m``, ``12m``, ``40s``: a readable duration."""
    seconds = micros // MICROS
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(p for p in parts if p) or f"{seconds}s"


class History:
    """A resource's versions up to a change, oldest first: the leading fields of each (read
    without decoding), whole records decoded only where a rule needs them."""

    def __init__(self, store: VersionStore, uid: str, upto: int, stored: Version | None = None) -> None:
        """``stored``: version ``upto`` as it was just written, when the caller holds it (not decoded again)."""
        known = stored is not None and stored.version == upto and stored.valid_to is None  # as the record reads
        # The versions before ``upto`` from the store; ``upto`` itself from the caller when it holds
        # it: not read back, and the input that wrote it need not flush for this scan
        # (streams/store/batched.py).
        records = [data for _, data in store.kv.scan_range(versions_prefix(uid), version_key(uid, upto))]
        last = stored.to_bytes() if known else store.kv.get(version_key(uid, upto))
        self.leads = [RecordLead.from_bytes(uid, data) for data in (records if last is None else [*records, last])]
        self._whole: dict[int, Version] = {upto: stored} if known else {}

    def whole(self, lead: RecordLead) -> Version:
        if lead.version not in self._whole:
            self._whole[lead.version] = lead.full()
        return self._whole[lead.version]

    def modified_since(self, micros: float) -> int:
        """How many modifications began after ``micros`` (from the leading fields alone)."""
        return sum(1 for lead in self.leads if lead.valid_from > micros and lead.kind == "modified")

    def since(self, micros: float, kind: str | None = None, mentioning: tuple[bytes, ...] = ()) -> list[Version]:
        """Versions that began after ``micros`` (of ``kind``; whose record holds one of ``mentioning``)."""
        return [self.whole(lead) for lead in self.leads
                if lead.valid_from > micros and (kind is None or lead.kind == kind)
                and (not mentioning or any(needle in lead.data for needle in mentioning))]


@dataclass(frozen=True)
class Context:
    change: ChangeEvent
    history: History

    @property
    def current(self) -> Version:
        return self.history.whole(self.history.leads[-1])

    def pattern(self, name: str, summary: str, proof: list[PatternEvidence], subject: str | None = None) -> PatternEvent:
        c, resource = self.change, self.change.resource
        return PatternEvent(pattern=name, uid=c.uid, type=c.type, account=c.account, region=c.region,
                            name=resource.name if resource else None, subject=subject, summary=summary,
                            evidence=proof, detected_at=c.observed_at)

    def label(self) -> str:
        resource = self.change.resource
        return f"{self.change.type} {(resource.name or resource.id) if resource else self.change.uid}"


class LifecyclePatterns:
    def __init__(self, store: VersionStore, settings: PatternSettings | None = None,
                 ignore: IgnoreRules | None = None) -> None:
        self.store, self.patterns = store, settings or PatternSettings()
        self.ignore = ignore or IgnoreRules()
        self.rules: tuple[Callable[[Context], list[PatternEvent]], ...] = (
            self.recreated, self.short_lived, self.flapping, self.schedule)

    def after(self, change: ChangeEvent, stored: Version | None = None) -> list[PatternEvent]:
        """The patterns ``change`` completes (its version must be stored; ``stored``: that version, if held)."""
        if change.kind == "created" and change.new_version == 1:
            return []  # a first version has no history to complete a pattern (no versions read)
        if change.kind == "modified" and change.new_version - 1 < self._fewest_modifications():
            return []  # fewer modifications ever than flapping or a schedule needs: no versions read
        history = History(self.store, change.uid, change.new_version, stored)
        if not history.leads or history.leads[-1].version != change.new_version:
            return []
        context = Context(change, history)
        return [found for rule in self.rules for found in rule(context)]

    def _fewest_modifications(self) -> int:
        """What a modification completes (flapping, a schedule) needs at least that many modifications
        in the resource's versions, which are at most its version number less its creation."""
        return min(self.patterns.flapping_changes, self.patterns.schedule_days)

    def recreated(self, ctx: Context) -> list[PatternEvent]:
        leads = ctx.history.leads
        if ctx.change.kind != "created" or len(leads) < 2 or not leads[-2].deleted:
            return []
        gone, back = ctx.history.whole(leads[-2]), ctx.current
        gap = back.valid_from - gone.valid_from
        if gap > self.patterns.recreated_within / timedelta(microseconds=1):
            return []
        summary = f"{ctx.label()} deleted and created again under the same name {span(gap)} later"
        return [ctx.pattern("recreated", summary, [evidence(gone, "deleted"), evidence(back, "created again")])]

    def short_lived(self, ctx: Context) -> list[PatternEvent]:
        if ctx.change.kind != "deleted":
            return []
        lead = next((v for v in reversed(ctx.history.leads[:-1]) if v.kind == "created"), None)
        if lead is None:
            return []  # its creation is older than retention: its lifetime is not known
        born = ctx.history.whole(lead)
        limit = self.patterns.short_lived_by_type.get(ctx.change.type, self.patterns.short_lived)
        lived = ctx.current.valid_from - born.valid_from
        if lived >= limit / timedelta(microseconds=1):
            return []
        summary = f"{ctx.label()} lived {span(lived)} (under {span(int(limit / timedelta(microseconds=1)))})"
        return [ctx.pattern("short-lived", summary, [evidence(born, "created"), evidence(ctx.current, "deleted")])]

    def flapping(self, ctx: Context) -> list[PatternEvent]:
        if ctx.change.kind != "modified":
            return []
        since = ctx.history.leads[-1].valid_from - self.patterns.flapping_window / timedelta(microseconds=1)
        if ctx.history.modified_since(since) < self.patterns.flapping_changes:
            return []  # too few changes in the window for any field to flap: nothing decoded
        mine = self._judged(ctx, ctx.current)
        if not mine:
            return []
        # Only versions whose diff names one of these fields can count: decode those alone.
        needles = tuple({b'"path":' + canonical_json(c.path) for c in mine})
        recent = [(v, self._judged(ctx, v)) for v in ctx.history.since(since, "modified", needles)]
        found = []
        for key in dict.fromkeys(flip_key(c) for c in recent[-1][1]):
            hits = [(v, next(c for c in diff if flip_key(c) == key)) for v, diff in recent
                    if any(flip_key(c) == key for c in diff)]
            if len(hits) == self.patterns.flapping_changes and goes_back([c for _, c in hits]):
                summary = f"{ctx.label()}: {key[0].removeprefix('attributes.')} changed {len(hits)} times " \
                          f"in {span(ctx.current.valid_from - hits[0][0].valid_from)}, back and forth"
                proof = [evidence(v, describe(c)) for v, c in hits]
                found.append(ctx.pattern("flapping", summary, proof, subject=key[0]))
        return found

    def _judged(self, ctx: Context, version: Version) -> list[FieldChange]:
        """What drift would report of a version, its state left to the schedule rule."""
        lifecycle = _lifecycle(ctx.change.type)
        tags = (version.resource or {}).get("tags") or {}
        diff = [FieldChange.model_validate(d) for d in version.diff]
        kept = self.ignore.split(ctx.change.type, tags, diff).kept
        state = f"attributes.{lifecycle.attribute}" if lifecycle else None
        return [c for c in kept if c.path != state]

    def schedule(self, ctx: Context) -> list[PatternEvent]:
        lifecycle = _lifecycle(ctx.change.type)
        if lifecycle is None or ctx.change.kind != "modified":
            return []
        lookback = ctx.history.leads[-1].valid_from - self.patterns.schedule_lookback / timedelta(microseconds=1)
        if ctx.history.modified_since(lookback) < self.patterns.schedule_days:
            return []  # fewer changes than days to complete: nothing decoded
        what = transition(lifecycle, ctx.current)
        if what is None:
            return []
        at = from_micros(ctx.current.valid_from)
        since = ctx.current.valid_from - self.patterns.schedule_lookback / timedelta(microseconds=1)
        days: dict[str, Version] = {}
        for v in ctx.history.since(since, "modified")[:-1]:
            moment = from_micros(v.valid_from)
            if v.valid_from > since and moment.hour == at.hour and transition(lifecycle, v) == what:
                days.setdefault(moment.date().isoformat(), v)
        if at.date().isoformat() in days or len(days) + 1 != self.patterns.schedule_days:
            return []  # not a new day, or not the day that completes it
        subject = f"{what} {at.hour:02d}h UTC"
        proof = [evidence(v, what) for v in [*days.values(), ctx.current]]
        summary = f"{ctx.label()} {'started' if what == 'start' else 'stopped'} between {at.hour:02d}:00 and " \
                  f"{at.hour:02d}:59 UTC on {len(proof)} days"
        return [ctx.pattern("schedule", summary, proof, subject=subject)]


def _lifecycle(type_name: str) -> Lifecycle | None:
    declared = declared_type(type_name)
    return declared.lifecycle if declared else None


def flip_key(change: FieldChange) -> tuple[str, bytes | None]:
    """What "the same field" is: a path whose value is replaced, or one item of it added or removed."""
    if change.op == "replace":
        return change.path, None
    return change.path, canonical_json(change.new if change.op == "add" else change.old)


def goes_back(changes: list[FieldChange]) -> bool:
    """The field returned to a value it had (an item was both added and removed)."""
    if changes[0].op == "replace":
        values = [canonical_json(changes[0].old)] + [canonical_json(c.new) for c in changes]
        return len(set(values)) < len(values)
    return {c.op for c in changes} == {"add", "remove"}


def transition(lifecycle: Lifecycle, version: Version) -> str | None:
    """``start`` or ``stop`` when this version's state became a running or stopped one."""
    path = f"attributes.{lifecycle.attribute}"
    for d in version.diff:
        if d.get("path") == path and d.get("op") == "replace" and d.get("old") != d.get("new"):
            if d.get("new") in lifecycle.running:
                return "start"
            if d.get("new") in lifecycle.stopped:
                return "stop"
    return None
