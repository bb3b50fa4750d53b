"""A store built with one kafka.shard_buckets never turns another into deletions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.events import Observation, Resource, ScanMarker, TrailEvent, digest
from elava.sharding import all_shards, shard_of
from streams.layout import LayoutGuard, align_layout
from streams.observe import Observer
from streams.store.kv import MemoryKV
from streams.store.versioned import ShardLayout, VersionStore, to_micros
from streams.store.waste import Judgement, WasteStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, TYPE, sg

GROUPS = [sg(f"sg-{n}") for n in range(60)]


def scan(observer: Observer, resources: list[Resource], buckets: int, at, name: str) -> list:
    """What a collector with ``buckets`` sends for one complete scan, applied; the changes."""
    changes, by_shard = [], {}
    for resource in resources:
        by_shard.setdefault(shard_of(resource.uid, ACCOUNT, REGION, TYPE, buckets), []).append(resource)
    for key, members in by_shard.items():
        changes += observer.observe(Observation(scan_id=name, account=ACCOUNT, region=REGION, type=TYPE, shard=key,
                                                page=0, observed_at=at, resources=members, shard_buckets=buckets))
    for key in all_shards(ACCOUNT, REGION, TYPE, buckets):
        ids = sorted(r.id for r in by_shard.get(key, []))
        changes += observer.close_scan(ScanMarker(
            scan_id=name, account=ACCOUNT, region=REGION, type=TYPE, shard=key, status="ok", count=len(ids),
            ids=ids, ids_digest=digest(ids), started_at=at, finished_at=at + timedelta(seconds=1),
            shard_buckets=buckets))
    return changes


def built_with(buckets: int) -> tuple[VersionStore, Observer]:
    store = VersionStore(MemoryKV())
    align_layout(store, buckets)
    observer = Observer(store)
    assert len(scan(observer, GROUPS, buckets, T0, "first")) == len(GROUPS)
    return store, observer


def test_16_then_10_then_16_buckets_changes_nothing_once_aligned():
    store, observer = built_with(16)
    assert align_layout(store, 10) > 0
    assert scan(observer, GROUPS, 10, T0 + timedelta(hours=1), "ten") == []
    assert align_layout(store, 16) > 0
    assert scan(observer, GROUPS, 16, T0 + timedelta(hours=2), "sixteen") == []
    assert store.shard_layout() == ShardLayout(16)


def test_without_alignment_a_new_layout_would_invent_deletions():
    """The failure the alignment exists for (kept as evidence that the test above can fail)."""
    _, observer = built_with(16)
    deleted = [c for c in scan(observer, GROUPS, 10, T0 + timedelta(hours=1), "ten") if c.kind == "deleted"]
    assert deleted


def test_alignment_is_a_no_op_for_the_recorded_layout():
    store, _ = built_with(16)
    assert align_layout(store, 16) == 0


def test_an_interrupted_migration_is_finished_by_the_next_run():
    store, observer = built_with(16)
    store.record_shard_layout(ShardLayout(10, complete=False))  # as if a run to 10 died right away
    assert align_layout(store, 10) > 0
    assert scan(observer, GROUPS, 10, T0 + timedelta(hours=1), "ten") == []


def test_a_store_without_a_recorded_layout_is_aligned_too():
    store = VersionStore(MemoryKV())
    observer = Observer(store)
    scan(observer, GROUPS, 16, T0, "legacy")
    assert store.shard_layout() is None
    align_layout(store, 10)
    assert scan(observer, GROUPS, 10, T0 + timedelta(hours=1), "ten") == []


def test_a_layout_change_forgets_the_old_shards_last_scans():
    store, _ = built_with(16)
    judged = Judgement("m1", 1, 0, None, 1)
    WasteStore(store.kv).record_judgement(all_shards(ACCOUNT, REGION, TYPE, 16)[0], judged)
    align_layout(store, 10)
    assert all(store.last_scan(key) is None for key in all_shards(ACCOUNT, REGION, TYPE, 16))
    # and their waste judgements: the next marker of a shard judges all its (new) members
    assert all(WasteStore(store.kv).judgement(key) is None for key in all_shards(ACCOUNT, REGION, TYPE, 16))


def test_removing_a_migrated_resource_forgets_its_moved_membership():
    store, observer = built_with(16)
    align_layout(store, 10)
    gone = GROUPS[0]
    scan(observer, GROUPS[1:], 10, T0 + timedelta(hours=1), "ten")
    store.remove_resource(store.head(gone.uid), store.versions(gone.uid))
    members = {uid for key in all_shards(ACCOUNT, REGION, TYPE, 10) for uid in store.shard_members(key)}
    assert gone.uid not in members and len(members) == len(GROUPS) - 1


def test_after_a_layout_change_a_deletion_belongs_to_the_shard_whose_scan_found_it_gone():
    """Its membership is there: the shard's time index must list it for the waste judgement."""
    store, observer = built_with(16)
    align_layout(store, 10)
    gone = GROUPS[0]
    [deleted] = scan(observer, GROUPS[1:], 10, T0 + timedelta(hours=1), "ten")
    now = shard_of(gone.uid, ACCOUNT, REGION, TYPE, 10)
    assert deleted.kind == "deleted" and store.head(gone.uid).shard == now
    assert store.changed_in_shard(now, to_micros(T0)) == [gone.uid]


def test_a_layout_change_forgets_from_when_each_shards_time_index_was_complete():
    store, _ = built_with(16)
    first = all_shards(ACCOUNT, REGION, TYPE, 16)[0]
    WasteStore(store.kv).record_changes_complete(first, to_micros(T0))
    align_layout(store, 10)
    assert WasteStore(store.kv).changes_complete_after(first) is None


def page_of(buckets: int | None, resource: Resource = GROUPS[0], bucket_count_for_key: int = 16) -> Observation:
    key = shard_of(resource.uid, ACCOUNT, REGION, TYPE, buckets or bucket_count_for_key)
    return Observation(scan_id="s", account=ACCOUNT, region=REGION, type=TYPE, shard=key, page=0, observed_at=T0,
                       resources=[resource], shard_buckets=buckets)


def test_the_guard_refuses_a_page_of_another_layout_and_writes_nothing():
    kv = MemoryKV()
    refusal = LayoutGuard(16).refusal(page_of(10), VersionStore(kv), 0)
    assert refusal is not None and "kafka.shard_buckets=10" in refusal and "kafka.shard_buckets=16" in refusal
    assert kv._data == {}


def test_the_guard_refuses_a_marker_of_another_layout():
    marker = ScanMarker(scan_id="s", account=ACCOUNT, region=REGION, type=TYPE, shard=f"{ACCOUNT}/{REGION}/{TYPE}/3",
                        status="ok", started_at=T0, finished_at=T0, shard_buckets=10)
    assert "scan marker" in LayoutGuard(16).refusal(marker, VersionStore(MemoryKV()), 0)


@pytest.mark.parametrize(("bucket", "why"), [("12", "outside kafka.shard_buckets=10"),
                                             ("x", "not account/region/type/bucket")])
def test_the_guard_refuses_an_undeclared_shard_outside_the_layout(bucket, why):
    page = page_of(None).model_copy(update={"shard": f"{ACCOUNT}/{REGION}/{TYPE}/{bucket}"})
    assert why in LayoutGuard(10).refusal(page, VersionStore(MemoryKV()), 0)


def test_the_guard_records_the_layout_on_first_use_and_refuses_a_partition_built_with_another():
    store = VersionStore(MemoryKV())
    assert LayoutGuard(16).refusal(page_of(16), store, 3) is None
    assert store.shard_layout() == ShardLayout(16)
    refusal = LayoutGuard(10).refusal(page_of(10, bucket_count_for_key=10), store, 3)
    assert refusal is not None and "table partition 3" in refusal


def test_trail_events_are_not_the_guards_business():
    trail = TrailEvent(trail_event_id="t", event_name="X", event_source="ec2.amazonaws.com", event_time=T0,
                       account=ACCOUNT, region=REGION, actor={}, resource={"uid": "u", "type": TYPE, "id": "i"})
    store = VersionStore(MemoryKV())
    assert LayoutGuard(16).refusal(trail, store, 0) is None
