"""The fleet rules on changes: re-created under a name, bursts by one actor; the same events
(same ids) from the store's versions as from the attributed changes of a stream."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from elava.events import AttributedChange, ChangeEvent
from elava.exceptions import SchemaError
from elava.settings import PatternSettings
from streams.analyzers.fleet import FleetItem, completed_by, fleet_items, fleet_patterns
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.analyzers.fleet_cases import BOB, attributed, instance
from tests.unit.streams.fixtures import T0

MINUTE = timedelta(minutes=1)
BURSTY = PatternSettings(burst_changes=3, burst_window=timedelta(minutes=5))


def items(*changes) -> list[FleetItem]:
    return [FleetItem.from_attributed(c) for c in changes]


def judged(found: list[FleetItem], settings: PatternSettings = BURSTY):
    return fleet_items(found, found, settings)


def test_a_deletion_and_a_creation_under_one_name_are_one_recreation_raised_by_the_later():
    old, new = instance("i-old"), instance("i-new")
    gone, back = items(attributed(old, "deleted", T0, version=2), attributed(new, "created", T0 + 5 * MINUTE))
    [event] = judged([gone, back])
    assert (event.pattern, event.uid, event.subject) == ("recreated", new.uid, "name web")
    assert [(e.uid, e.version, e.kind) for e in event.evidence] == [(old.uid, 2, "deleted"), (new.uid, 1, "created")]
    assert "deleted 5m before" in event.summary and event.detected_at == T0 + 5 * MINUTE
    assert fleet_items([gone, back], [gone], BURSTY) == []  # the earlier one completes nothing
    # Create before destroy: the same pair, completed by the deletion.
    first, then = items(attributed(new, "created", T0), attributed(old, "deleted", T0 + MINUTE, version=2))
    [event] = judged([first, then])
    assert event.uid == new.uid and "deleted 1m after" in event.summary


def test_no_recreation_across_names_accounts_or_beyond_the_window():
    other = instance("i-new", name="api")
    gone, back = items(attributed(instance("i-old"), "deleted", T0, 2), attributed(other, "created", T0 + MINUTE))
    assert judged([gone, back]) == []
    late = items(attributed(instance("i-new"), "created", T0 + timedelta(hours=25)))
    assert judged([gone, *late]) == []
    unnamed = items(attributed(instance("i-a", None), "deleted", T0, 2), attributed(instance("i-b", None), "created", T0))
    assert judged(unnamed) == []


def test_a_burst_is_raised_once_by_the_change_that_reaches_the_threshold_with_its_window():
    changes = items(*(attributed(instance(f"i-{n}"), "modified", T0 + n * MINUTE, 2, BOB) for n in range(6)))
    [burst] = judged(changes)
    assert (burst.pattern, burst.uid, burst.name, burst.type) == ("burst", BOB.arn, "bob", "actor")
    assert [e.uid for e in burst.evidence] == [instance(f"i-{n}").uid for n in range(3)]
    assert burst.detected_at == T0 + 2 * MINUTE and "bob changed 3 resources in 2m (ec2.instance ×3)" in burst.summary
    # Quiet for a whole window, busy again: a second episode.
    again = items(*(attributed(instance(f"j-{n}"), "modified", T0 + (20 + n) * MINUTE, 2, BOB) for n in range(3)))
    assert [b.detected_at for b in judged(changes + again)] == [T0 + 2 * MINUTE, T0 + 22 * MINUTE]


def test_changes_of_one_moment_all_belong_to_the_burst_they_make():
    changes = items(*(attributed(instance(f"i-{n}"), "created", T0, 1, BOB) for n in range(7)))
    [burst] = judged(changes)
    assert len(burst.evidence) == 7 and "bob changed 7 resources in 0s" in burst.summary


def test_only_cloudtrail_actors_make_bursts():
    guessed = items(*(attributed(instance(f"i-{n}"), "modified", T0, 2, BOB, trail=False) for n in range(5)))
    unknown = items(*(attributed(instance(f"k-{n}"), "modified", T0, 2) for n in range(5)))
    assert judged(guessed + unknown) == []


def test_the_store_and_the_stream_raise_the_same_events_under_the_same_ids():
    store = VersionStore(MemoryKV())
    processor = PartitionProcessor(store)
    from elava.events import Observation, TouchedResource, TrailEvent
    from tests.unit.streams.fixtures import ACCOUNT, REGION

    servers = [instance(f"i-{n}", name=f"web-{n}") for n in range(4)]
    published = []
    for n, server in enumerate(servers):
        at = T0 + n * MINUTE
        processor.process(TrailEvent(trail_event_id=f"ct-{n}", event_name="RunInstances",
                                     event_source="ec2.amazonaws.com", event_time=at - timedelta(seconds=20),
                                     account=ACCOUNT, region=REGION, actor=BOB,
                                     resource=TouchedResource(uid=server.uid, type=server.type, id=server.id)))
        produced = processor.process(Observation(scan_id=f"s{n}", account=ACCOUNT, region=REGION, type=server.type,
                                                 shard=f"{ACCOUNT}/{REGION}/{server.type}/{n}", page=0,
                                                 observed_at=at, resources=[server]))
        published += produced.attributed
    stream = [FleetItem.from_attributed(a) for a in published]
    from_stream = fleet_items(stream, stream, BURSTY)
    from_store = fleet_patterns(store, T0, T0 + timedelta(hours=1), BURSTY)
    assert [e.pattern for e in from_stream] == ["burst"]
    assert [e.event_id for e in from_store] == [e.event_id for e in from_stream]
    assert [e.event_id for e in completed_by(store, [a.change for a in published], BURSTY)] == \
        [e.event_id for e in from_stream]
    # A window that starts after the burst's first changes still finds it, whole (it reads back).
    assert [e.event_id for e in fleet_patterns(store, T0 + 2 * MINUTE, T0 + 3 * MINUTE, BURSTY)] == \
        [e.event_id for e in from_stream]
    assert fleet_patterns(store, T0 + 3 * MINUTE, T0 + 4 * MINUTE, BURSTY) == []


def test_an_item_read_from_bytes_is_the_item_of_the_whole_change():
    """The stage reads only the fields an item needs; what it reads must be what the whole
    change says, for creations, deletions, unnamed resources, guessed and CloudTrail actors."""
    cases = [attributed(instance("i-1"), "created", T0),
             attributed(instance("i-2", name=None), "modified", T0, version=3, actor=BOB),
             attributed(instance("i-3"), "deleted", T0, version=2, actor=BOB, trail=False)]
    gone = cases[0].change.model_copy(update={"resource": None, "kind": "deleted"})
    cases.append(cases[0].model_copy(update={"change": ChangeEvent.model_validate(gone.model_dump())}))
    for change in cases:
        assert FleetItem.from_bytes(change.to_bytes()) == FleetItem.from_attributed(change)


def test_bytes_that_hold_no_attributed_change_say_why_as_the_whole_contract_does():
    whole = orjson.loads(attributed(instance("i-1"), "created", T0).to_bytes())
    broken = [b"not json", b"[]", orjson.dumps({**whole, "schema_version": 99}),
              orjson.dumps({**whole, "confidence": 2.0}),  # a constraint of the contract, kept by the view
              orjson.dumps({**whole, "change": {**whole["change"], "new_version": "two"}})]
    for data in broken:
        with pytest.raises(SchemaError) as whole_read:
            AttributedChange.from_bytes(data)
        with pytest.raises(SchemaError) as read:
            FleetItem.from_bytes(data)
        assert str(read.value) == str(whole_read.value)


def test_a_record_broken_only_in_what_the_stage_skips_still_makes_its_item():
    change = attributed(instance("i-1"), "created", T0)
    whole = orjson.loads(change.to_bytes())
    data = orjson.dumps({**whole, "change": {**whole["change"], "diff": "not a diff"}})
    with pytest.raises(SchemaError):
        AttributedChange.from_bytes(data)  # the policy stage dead-letters it
    assert FleetItem.from_bytes(data) == FleetItem.from_attributed(change)
