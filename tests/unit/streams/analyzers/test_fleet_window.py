"""The fleet-pattern stage's window: a change is judged once its time has passed the stage's
clock, each pattern is raised once, a later attribution counts, old changes are dropped."""

from __future__ import annotations

from datetime import timedelta

from elava.settings import PatternSettings
from streams.analyzers.fleet import FleetItem
from streams.analyzers.fleet_window import FleetWindow
from streams.store.versioned import to_micros
from tests.unit.streams.analyzers.fleet_cases import BOB, attributed, instance
from tests.unit.streams.fixtures import T0

MINUTE = timedelta(minutes=1)
SETTINGS = PatternSettings(burst_changes=3, burst_window=timedelta(minutes=5), recreated_within=timedelta(hours=1))


def item(change) -> FleetItem:
    return FleetItem.from_attributed(change)


def at(moment) -> int:
    return to_micros(moment)


def test_a_change_is_judged_once_the_clock_passes_it_and_a_pattern_is_raised_once():
    window = FleetWindow(SETTINGS)
    window.add(item(attributed(instance("i-old"), "deleted", T0, 2)))
    window.add(item(attributed(instance("i-new"), "created", T0 + MINUTE)))
    assert window.judge(at(T0 + 30 * timedelta(seconds=1))) == []  # the deletion alone: nothing yet
    [event] = window.judge(at(T0 + MINUTE))
    assert event.pattern == "recreated"
    window.add(item(attributed(instance("i-new"), "created", T0 + MINUTE)))  # delivered again
    assert window.judge(at(T0 + 2 * MINUTE)) == [] and window.pending == set()


def test_a_late_attribution_by_cloudtrail_makes_a_burst_when_it_comes_before_the_clock():
    window = FleetWindow(SETTINGS)
    servers = [instance(f"i-{n}") for n in range(3)]
    for n, server in enumerate(servers):
        window.add(item(attributed(server, "modified", T0 + n * MINUTE, 2)))  # nobody named yet
    for n, server in enumerate(servers):
        window.add(item(attributed(server, "modified", T0 + n * MINUTE, 2, BOB)))  # CloudTrail came
    [burst] = window.judge(at(T0 + 10 * MINUTE))
    assert burst.pattern == "burst" and [e.actor for e in burst.evidence] == ["bob"] * 3


def test_changes_given_as_context_are_evidence_but_raise_nothing_themselves():
    window = FleetWindow(SETTINGS)
    window.add(item(attributed(instance("i-old"), "deleted", T0, 2)), judge=False)
    window.add(item(attributed(instance("i-new"), "created", T0 + MINUTE)), judge=False)
    assert window.judge(at(T0 + 10 * MINUTE)) == []  # judged before a restart: not raised again
    window.add(item(attributed(instance("i-newer"), "created", T0 + 2 * MINUTE)))
    [event] = window.judge(at(T0 + 10 * MINUTE))
    assert [e.uid for e in event.evidence] == [instance("i-old").uid, instance("i-newer").uid]


def test_memory_holds_the_lookback_only_and_a_change_older_than_it_is_not_judged():
    window = FleetWindow(SETTINGS)  # lookback: the hour of recreated_within
    window.add(item(attributed(instance("i-old"), "deleted", T0, 2)))
    window.judge(at(T0 + MINUTE))
    window.add(item(attributed(instance("i-1"), "modified", T0 + 2 * timedelta(hours=1), 2)))
    window.judge(at(T0 + 2 * timedelta(hours=1)))
    assert [key[0] for key in window.items] == [instance("i-1").uid]  # the deletion is gone
    window.add(item(attributed(instance("i-new"), "created", T0 + MINUTE)))  # far too late
    assert window.pending == set() and window.judge(at(T0 + 3 * timedelta(hours=1))) == []


def test_a_change_from_a_lagging_partition_is_still_judged_while_its_evidence_is_kept():
    window = FleetWindow(SETTINGS)
    window.add(item(attributed(instance("i-old"), "deleted", T0, 2)))
    window.judge(at(T0 + 10 * MINUTE))
    window.add(item(attributed(instance("i-new"), "created", T0 + 5 * MINUTE)))  # arrives after the clock
    [event] = window.judge(at(T0 + 11 * MINUTE))
    assert event.pattern == "recreated"
