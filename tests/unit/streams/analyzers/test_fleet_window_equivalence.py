"""The fleet window judges with indexes kept as changes come and go; what it raises must be what
the rules raise over every change it holds (fleet_items), judged the way the window's
contract says: due changes, plus the judged ones a late change may complete a pattern with.

The reference below is that contract written plainly, re-reading the whole window on every
judgement (as the window did before its indexes); random streams of changes, late ones,
re-attributions, context and clocks going back and forth must give the same events, pending
changes and kept changes.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elava.settings import PatternSettings
from streams.analyzers.fleet import FleetItem, fleet_items, lookback
from streams.analyzers.fleet_window import FleetWindow
from streams.store.versioned import to_micros

# Small thresholds, so that random streams raise often: a burst is two resources in ten minutes.
PATTERNS = PatternSettings(burst_changes=2, burst_window=timedelta(minutes=10), recreated_within=timedelta(minutes=30))
MINUTE = 60_000_000


class PlainWindow:
    """The window's contract, every judgement over everything kept."""

    def __init__(self, patterns: PatternSettings) -> None:
        self.patterns, self.items, self.pending, self.raised = patterns, {}, set(), {}
        self.horizon = None
        self.keep = lookback(patterns) // timedelta(microseconds=1)

    def add(self, item: FleetItem, judge: bool = True) -> None:
        key = (item.uid, item.version)
        known = key in self.items
        self.items[key] = item
        if judge and not known and (self.horizon is None or item.at >= self.horizon - self.keep):
            self.pending.add(key)

    def judge(self, until: int) -> list:
        due = [self.items[key] for key in self.pending if self.items[key].at <= until]
        self.pending.difference_update((item.uid, item.version) for item in due)
        again = self._judged_after(due, until)
        self.horizon = max(self.horizon or until, until)
        if not due:
            return []
        fresh, judging = [], {(item.uid, item.version) for item in due}
        for event in fleet_items(self.items.values(), due + again, self.patterns):
            if any((e.uid, e.version) in judging for e in event.evidence) and event.event_id not in self.raised:
                self.raised[event.event_id] = to_micros(event.detected_at)
                fresh.append(event)
        before = until - self.keep
        for key in [key for key, item in self.items.items() if item.at < before and key not in self.pending]:
            del self.items[key]
        self.raised = {event_id: at for event_id, at in self.raised.items() if at >= before}
        return fresh

    def _judged_after(self, due: list[FleetItem], until: int) -> list[FleetItem]:
        late = sorted(item.at for item in due if self.horizon is not None and item.at < self.horizon)
        judging = {(item.uid, item.version) for item in due}

        def follows_a_late_one(at: int) -> bool:
            first = bisect_left(late, at - self.keep)
            return first < len(late) and late[first] <= at

        return [item for key, item in self.items.items()
                if late and key not in judging and key not in self.pending and item.at <= until
                and follows_a_late_one(item.at)]


change = st.builds(
    lambda n, version, kind, step, name, actor: FleetItem(
        uid=f"uid-{n}", version=version, kind=kind, at=step * 5 * MINUTE, type="aws:ec2:instance", account="1",
        region="eu-west-1", name=name, id=f"i-{n}", trail_actor=actor, shown_actor=actor),
    st.integers(0, 5), st.integers(1, 2), st.sampled_from(["created", "deleted", "modified"]),
    # Five-minute steps: changes often share a moment or lie exactly a window apart, and a
    # hundred minutes outlast the half hour kept.
    st.integers(0, 20), st.sampled_from([None, "web", "db"]), st.sampled_from([None, "alice", "alice", "bob"]))
step = st.one_of(st.tuples(st.just("add"), change, st.sampled_from([True, True, True, False])),
                 # The clock moves on a step or two, now and then back (a lagging partition holds it).
                 st.tuples(st.just("judge"), st.integers(-1, 2), st.none()))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=10, max_size=80))
def test_the_window_raises_what_the_rules_raise_over_everything_it_holds(steps):
    window, plain = FleetWindow(PATTERNS), PlainWindow(PATTERNS)
    clock = 0
    for op, value, judge in steps:
        if op == "add":
            window.add(value, judge=judge)
            plain.add(value, judge=judge)
        else:
            clock = max(0, clock + value)
            until = clock * 5 * MINUTE
            # In any order: each event stands alone (its own key and id); a re-attribution moves its change.
            assert sorted(e.event_id for e in window.judge(until)) == sorted(e.event_id for e in plain.judge(until))
        assert window.pending == plain.pending
        assert list(window.items) == list(plain.items)
        assert window.raised == plain.raised
