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
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import timedelta

from elava.analyzer_events import PatternEvent
from elava.settings import PatternSettings
from streams.analyzers.fleet import FleetItem, Micros, fleet_items, lookback
from streams.store.versioned import to_micros

Key = tuple[str, int]  # (uid, version): one change, whatever its attribution says


@dataclass
class FleetWindow:
    settings: PatternSettings
    items: dict[Key, FleetItem] = field(default_factory=dict)
    pending: set[Key] = field(default_factory=set)
    raised: dict[str, Micros] = field(default_factory=dict)  # ids raised, with their detection time
    horizon: Micros | None = None  # every change up to this time has been judged

    @property
    def keep(self) -> Micros:
        return lookback(self.settings) // timedelta(microseconds=1)

    def add(self, item: FleetItem, judge: bool = True) -> None:
        """Keep ``item`` (a later attribution of a change replaces the earlier one, and is not
        judged again); judge it later, unless it is context or older than what is kept."""
        key = (item.uid, item.version)
        known = key in self.items  # a re-attribution: judged once already, or pending
        self.items[key] = item
        if judge and not known and (self.horizon is None or item.at >= self.horizon - self.keep):
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
        for event in fleet_items(self.items.values(), due + again, self.settings):
            if not _uses(event, judging):
                continue  # judged again, but without a late change: raised before (maybe before a restart)
            if event.event_id not in self.raised:
                self.raised[event.event_id] = _micros(event)
                fresh.append(event)
        self._forget(until - self.keep)
        return fresh

    def _judged_after(self, due: list[FleetItem], until: Micros) -> list[FleetItem]:
        """The kept changes up to ``until`` that were judged already (before the horizon) but lie
        within ``lookback`` after a late one of ``due``: they may complete a pattern with it."""
        if self.horizon is None:
            return []
        late = sorted(item.at for item in due if item.at < self.horizon)
        if not late:
            return []
        judging = {(item.uid, item.version) for item in due}

        def follows_a_late_one(at: Micros) -> bool:
            first = bisect_left(late, at - self.keep)  # the earliest late change at most ``keep`` before
            return first < len(late) and late[first] <= at

        return [item for key, item in self.items.items()
                if key not in judging and key not in self.pending and item.at <= until
                and follows_a_late_one(item.at)]

    def _forget(self, before: Micros) -> None:
        """Drop what no pending or future change can need as evidence."""
        for key in [key for key, item in self.items.items() if item.at < before and key not in self.pending]:
            del self.items[key]
        for event_id in [event_id for event_id, at in self.raised.items() if at < before]:
            del self.raised[event_id]


def _uses(event: PatternEvent, keys: set[Key]) -> bool:
    return any((evidence.uid, evidence.version) in keys for evidence in event.evidence)


def _micros(event: PatternEvent) -> Micros:
    return to_micros(event.detected_at)
