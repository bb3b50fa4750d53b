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


def test_a_late_deletion_completes_the_recreation_with_a_creation_judged_before_it():
    window = FleetWindow(SETTINGS)
    window.add(item(attributed(instance("i-new"), "created", T0 + MINUTE)))
    assert window.judge(at(T0 + 20 * MINUTE)) == []  # the creation alone: nothing
    window.add(item(attributed(instance("i-old"), "deleted", T0, 2)))  # a lagging partition's, behind it
    [event] = window.judge(at(T0 + 40 * MINUTE))
    assert event.pattern == "recreated"
    assert [e.uid for e in event.evidence] == [instance("i-old").uid, instance("i-new").uid]
    window.add(item(attributed(instance("i-older"), "modified", T0 - MINUTE, 2)))  # later, unrelated: not again
    assert window.judge(at(T0 + 41 * MINUTE)) == []


def test_a_late_change_completes_the_burst_of_changes_judged_before_it():
    window = FleetWindow(SETTINGS)
    for n in (1, 2):
        window.add(item(attributed(instance(f"i-{n}"), "modified", T0 + n * MINUTE, 2, BOB)))
    assert window.judge(at(T0 + 20 * MINUTE)) == []  # two changes: below the threshold of three
    window.add(item(attributed(instance("i-0"), "modified", T0, 2, BOB)))  # a lagging partition's
    [burst] = window.judge(at(T0 + 40 * MINUTE))
    assert burst.pattern == "burst"
    assert [e.uid for e in burst.evidence] == [instance(f"i-{n}").uid for n in range(3)]


def test_a_late_change_raises_once_what_the_same_changes_judged_together_raise():
    together, apart = FleetWindow(SETTINGS), FleetWindow(SETTINGS)
    changes = [item(attributed(instance("i-old"), "deleted", T0, 2)),
               *(item(attributed(instance(f"i-{n}"), "modified", T0 + n * MINUTE, 2, BOB)) for n in range(3)),
               item(attributed(instance("i-new"), "created", T0 + 4 * MINUTE))]
    for change in changes:
        together.add(change)
    expected = together.judge(at(T0 + 40 * MINUTE))
    for change in changes[1:]:
        apart.add(change)
    first = apart.judge(at(T0 + 20 * MINUTE))
    apart.add(changes[0])
    raised = first + apart.judge(at(T0 + 40 * MINUTE))
    assert sorted(e.event_id for e in raised) == sorted(e.event_id for e in expected)
    assert sorted(e.pattern for e in raised) == ["burst", "recreated"]


def test_a_late_change_does_not_raise_again_what_context_changes_raised_before_a_restart():
    window = FleetWindow(SETTINGS)
    window.add(item(attributed(instance("i-old"), "deleted", T0, 2)), judge=False)
    window.add(item(attributed(instance("i-new"), "created", T0 + 2 * MINUTE)), judge=False)
    window.judge(at(T0 + 10 * MINUTE))
    window.add(item(attributed(instance("i-1"), "modified", T0 + MINUTE, 2)))  # late, between them
    assert window.judge(at(T0 + 11 * MINUTE)) == []  # the recreation was published before the restart
