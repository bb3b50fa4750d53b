"""Rolling retention: the window's edge still answers, old tombstones vanish, runs are bounded."""

from datetime import timedelta

from streams.store.queries import TemporalQueries
from streams.store.retention import enforce_retention
from tests.unit.streams.fixtures import T0, page, sg, shard
from tests.unit.streams.test_queries import HOUR, delete, evolve, new_observer

DAY = 24 * HOUR
WINDOW = timedelta(days=5)


def keys_about(store, uid):
    """Every stored key that names ``uid`` (head, versions, membership, time index)."""
    return sorted(key for key in store.kv._data if uid.encode() in key)


def test_versions_that_ended_before_the_window_go_but_the_edge_version_stays():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0, 24, 240])  # v1 day 0, v2 day 1, v3 day 10
    store = observer.store
    report = enforce_retention(store, WINDOW, now=T0 + 12 * DAY)  # window starts at day 7
    assert (report.versions_dropped, report.resources_removed, report.caught_up) == (1, 0, True)
    assert [v.version for v in store.versions(uid)] == [2, 3]
    queries = TemporalQueries(store)
    assert queries.as_of(uid, T0 + 7 * DAY).version == 2  # the edge still answers
    assert queries.as_of(uid, T0 + 2 * HOUR) is None  # before the kept history
    assert [v.version for v in queries.changes(T0, T0 + 20 * DAY)] == [2, 3]


def test_an_unchanged_resource_keeps_its_only_version_forever():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0])
    enforce_retention(observer.store, WINDOW, now=T0 + 400 * DAY)
    assert [v.version for v in observer.store.versions(uid)] == [1]
    assert TemporalQueries(observer.store).as_of(uid, T0 + 399 * DAY).version == 1


def test_a_tombstone_older_than_the_window_removes_the_resource_entirely():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0, 1])
    delete(observer, "sg-1", 2)
    store = observer.store
    enforce_retention(store, WINDOW, now=T0 + 90 * HOUR / 60 + WINDOW)  # tombstone inside the window
    assert [v.kind for v in store.versions(uid)] == ["modified", "deleted"]
    report = enforce_retention(store, WINDOW, now=T0 + 6 * DAY)
    assert report.resources_removed == 1
    assert keys_about(store, uid) == []
    assert store.head(uid) is None and list(store.shard_members(shard(sg("sg-1")))) == []


def test_a_uid_removed_by_retention_is_created_afresh_when_it_comes_back():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0])
    delete(observer, "sg-1", 1)
    enforce_retention(observer.store, WINDOW, now=T0 + 10 * DAY)
    (change,) = observer.observe(page([sg("sg-1")], T0 + 11 * DAY, scan="back"))
    assert (change.kind, change.new_version, change.previous_version) == ("created", 1, None)
    assert [v.kind for v in TemporalQueries(observer.store).history(uid)] == ["created"]


def test_a_recreated_uid_keeps_its_tombstone_while_it_is_the_edge():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0], tags_of=lambda i: {"life": "first"})
    delete(observer, "sg-1", 24)
    evolve(observer, "sg-1", [240], tags_of=lambda i: {"life": "second"})
    store = observer.store
    enforce_retention(store, WINDOW, now=T0 + 12 * DAY)  # window starts at day 7: gone then
    assert [v.kind for v in store.versions(uid)] == ["deleted", "created"]
    queries = TemporalQueries(store)
    assert queries.as_of(uid, T0 + 7 * DAY) is None
    assert queries.as_of(uid, T0 + 11 * DAY).resource["tags"] == {"life": "second"}
    enforce_retention(store, WINDOW, now=T0 + 16 * DAY)  # now the re-creation is the edge
    assert [v.kind for v in store.versions(uid)] == ["created"]


def test_runs_are_bounded_and_resume_where_they_stopped():
    observer = new_observer()
    uids = [evolve(observer, f"sg-{n}", [0, 1, 2, 3]) for n in range(5)]
    store, reports = observer.store, []
    while not reports or not reports[-1].caught_up:
        reports.append(enforce_retention(store, WINDOW, now=T0 + 30 * DAY, budget=3))
    assert all(r.scanned <= 3 for r in reports) and len(reports) == 7  # 20 entries, 3 a run
    assert sum(r.versions_dropped for r in reports) == 15
    assert all([v.version for v in store.versions(uid)] == [4] for uid in uids)
    again = enforce_retention(store, WINDOW, now=T0 + 30 * DAY)
    assert (again.scanned, again.versions_dropped) == (0, 0)


def test_retention_leaves_nothing_behind_for_dropped_versions():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0, 1, 2])
    store = observer.store
    before = keys_about(store, uid)
    enforce_retention(store, WINDOW, now=T0 + 10 * DAY)
    after = keys_about(store, uid)
    assert len(before) - len(after) == 6  # two version records and their entries in both time indexes
    assert all(not key.startswith((b"v", b"t", b"k")) or key.endswith(b"\x00\x00\x00\x03") for key in after)
