"""The fleet rules (fleet.py) over a stream: a window of recent changes kept in memory.

Changes arrive from every partition, in no global order, and CloudTrail names their
actors minutes late (a re-attribution is the same change again, better attributed). So a
change is *judged* — the patterns it completes are raised — only once the stream's clock
has passed its time (the stage sets that clock ``settle`` behind the present); until
then it is *pending*. A judged change stays as evidence for ``lookback`` (fleet.py),
then it is dropped: memory is bounded by the changes of that window.

A change can come late, behind changes already judged (a lagging partition). It may be
the earlier half of a pattern those completed, so the kept changes of the ``lookback``
after it are judged again with it. Only what uses a change being judged is raised (a
late change can only add patterns that hold it), each id once: what they raise now is
what they would have raised had it come in time.

A change can be given as context only (``judge=False``): one that was judged before a
restart, read again so that what follows it is judged against the same past.

A judgement costs what the changes it judges touch, not the size of the window: the named
creations and deletions are kept by name and CloudTrail-named changes by actor, in time
order, and what is dropped leaves from the oldest end. (Re-reading the whole window for
every poll made a stage catching up on a backlog quadratic: docs/benchmarks.md.)
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import timedelta

from sortedcontainers import SortedKeyList

from elava.analyzer_events import PatternEvent
from elava.settings import PatternSettings
from streams.analyzers.fleet import (
    FleetItem,
    Micros,
    bursts_among,
    is_named_lifecycle,
    lookback,
    recreated_among,
)
from streams.store.versioned import to_micros

Key = tuple[str, int]  # (uid, version): one change, whatever its attribution says
Name = tuple[str, ...]


def _order(item: FleetItem) -> tuple[int, str, int]:
    return item.order


@dataclass
class FleetWindow:
    settings: PatternSettings
    items: dict[Key, FleetItem] = field(default_factory=dict)
    pending: set[Key] = field(default_factory=set)
    raised: dict[str, Micros] = field(default_factory=dict)  # ids raised, with their detection time
    horizon: Micros | None = None  # every change up to this time has been judged
    keep: Micros = field(init=False)  # how long a judged change stays as evidence
    _within: Micros = field(init=False, repr=False)  # recreated_within
    _burst: Micros = field(init=False, repr=False)  # burst_window
    # Indexes of ``items``, kept with it: what the rules read, and what leaves first.
    _named: dict[Name, dict[Key, FleetItem]] = field(default_factory=dict, init=False, repr=False)
    _acting: dict[str, SortedKeyList] = field(default_factory=dict, init=False, repr=False)
    _oldest: list[tuple[Micros, Key]] = field(default_factory=list, init=False, repr=False)
    _raised_oldest: list[tuple[Micros, str]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        micro = timedelta(microseconds=1)
        self.keep = lookback(self.settings) // micro
        self._within, self._burst = self.settings.recreated_within // micro, self.settings.burst_window // micro

    def add(self, item: FleetItem, judge: bool = True) -> None:
        """Keep ``item`` (a later attribution of a change replaces the earlier one, and is not
        judged again); judge it later, unless it is context or older than what is kept."""
        key = (item.uid, item.version)
        known = self.items.get(key)  # a re-attribution: judged once already, or pending
        self.items[key] = item
        if known is not None:
            self._unindex(key, known)
        if known is None or known.at != item.at:
            heapq.heappush(self._oldest, (item.at, key))
        self._index(key, item)
        if judge and known is None and (self.horizon is None or item.at >= self.horizon - self.keep):
            self.pending.add(key)  # a late arrival too, while its evidence is still kept

    def judge(self, until: Micros) -> list[PatternEvent]:
        """The patterns completed by the pending changes up to ``until``, each raised once."""
        due = [self.items[key] for key in self.pending if self.items[key].at <= until]
        self.pending.difference_update((item.uid, item.version) for item in due)
        again = self._judged_after(due, until)
        self.horizon = max(self.horizon or until, until)
        if not due:
            return []
        fresh, judging = [], {(item.uid, item.version) for item in due}
        completing = due + again
        found = (recreated_among(self._by_name, completing, self.settings)
                 + bursts_among(self._acting.__getitem__, completing, self.settings))
        for event in found:
            if not _uses(event, judging):
                continue  # judged again, but without a late change: raised before (maybe before a restart)
            if event.event_id not in self.raised:
                self.raised[event.event_id] = detected = _micros(event)
                heapq.heappush(self._raised_oldest, (detected, event.event_id))
                fresh.append(event)
        self._forget(until - self.keep)
        return fresh

    def _judged_after(self, due: list[FleetItem], until: Micros) -> list[FleetItem]:
        """The kept changes up to ``until`` that were judged already (before the horizon) but lie
        within ``lookback`` after a late one of ``due``: they may complete a pattern with it.

        Only those a rule could pair with a change being judged: a recreation pairs creations and
        deletions of one name, a burst the changes of one actor; a pattern using no change being
        judged was raised before."""
        if self.horizon is None:
            return []
        late = sorted(item.at for item in due if item.at < self.horizon)
        if not late:
            return []
        judging = {(item.uid, item.version) for item in due}
        again: dict[Key, FleetItem] = {}
        for item in due:
            for key, other in self._partners(item):
                if (key not in judging and key not in self.pending and other.at <= until
                        and _follows_one_of(late, other.at, self.keep)):
                    again[key] = other
        return list(again.values())

    def _partners(self, item: FleetItem) -> list[tuple[Key, FleetItem]]:
        """The kept changes a rule could judge together with ``item`` as the later one."""
        found = []
        if is_named_lifecycle(item):
            found += [(key, other) for key, other in self._named.get(item.name_key, {}).items()
                      if item.at <= other.at <= item.at + self._within]
        made = self._acting.get(item.trail_actor) if item.trail_actor is not None else None
        if made is not None:
            found += [((other.uid, other.version), other) for other in
                      made.irange_key((item.at,), (item.at + self._burst + 1,), inclusive=(True, False))]
        return found

    def _by_name(self, name: Name) -> list[FleetItem]:
        return list(self._named.get(name, {}).values())

    def _index(self, key: Key, item: FleetItem) -> None:
        if is_named_lifecycle(item):
            self._named.setdefault(item.name_key, {})[key] = item
        if item.trail_actor is not None:
            self._acting.setdefault(item.trail_actor, SortedKeyList(key=_order)).add(item)

    def _unindex(self, key: Key, item: FleetItem) -> None:
        if is_named_lifecycle(item):
            named = self._named[item.name_key]
            del named[key]
            if not named:
                del self._named[item.name_key]
        if item.trail_actor is not None:
            made = self._acting[item.trail_actor]
            made.remove(item)
            if not made:
                del self._acting[item.trail_actor]

    def _forget(self, before: Micros) -> None:
        """Drop what no future change can need as evidence, oldest first (``before`` is ``lookback``
        behind the clock just judged to: every change still pending is later)."""
        while self._oldest and self._oldest[0][0] < before:
            at, key = heapq.heappop(self._oldest)
            item = self.items.get(key)
            if item is not None and item.at == at:  # else dropped already, or kept under its later time
                del self.items[key]
                self._unindex(key, item)
        while self._raised_oldest and self._raised_oldest[0][0] < before:
            at, event_id = heapq.heappop(self._raised_oldest)
            if self.raised.get(event_id) == at:
                del self.raised[event_id]


def _follows_one_of(late: list[Micros], at: Micros, keep: Micros) -> bool:
    """Whether some late change (``late`` sorted) lies at most ``keep`` before ``at``."""
    first = bisect_left(late, at - keep)
    return first < len(late) and late[first] <= at


def _uses(event: PatternEvent, keys: set[Key]) -> bool:
    return any((evidence.uid, evidence.version) in keys for evidence in event.evidence)


def _micros(event: PatternEvent) -> Micros:
    return to_micros(event.detected_at)
