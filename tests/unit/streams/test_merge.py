"""Answers of several stores, each holding some shards, merge into the answer one store
holding everything gives (streams/store/merge.py): the property the workers' fan-out
rests on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.analyzer_events import WasteFinding
from elava.events import Observation, ScanMarker
from streams.observe import Observer
from streams.store.api import ROUTES, Found, answer, answer_found
from streams.store.kv import MemoryKV
from streams.store.merge import LISTS, coverage_problem, merge
from streams.store.queries import TemporalQueries
from streams.store.versioned import VersionStore
from streams.store.waste import FindingRecord, WasteStore
from tests.unit.streams.fixtures import T0, marker, page, sg, shard

STORES = 3
MINUTE = timedelta(minutes=1)


def estate():
    """Twelve groups in shards spread over three stores (and all in one): created at
    different times, some retagged, one deleted; sg-7 of another account has the id sg-1."""
    whole = Observer(VersionStore(MemoryKV()))
    parts = [Observer(VersionStore(MemoryKV())) for _ in range(STORES)]
    shards = sorted({shard(sg(f"sg-{i}")) for i in range(12)})

    def feed(event, key):
        for observer in (whole, parts[shards.index(key) % STORES]):
            observer.close_scan(event) if isinstance(event, ScanMarker) else observer.observe(event)

    for i in range(12):
        group = sg(f"sg-{i}", {"owner": "alice" if i % 2 else "bob"})
        feed(page([group], T0 + i * MINUTE, scan=f"a{i}"), shard(group))
    for i in (3, 5, 8):
        group = sg(f"sg-{i}", {"owner": "carol"})
        feed(page([group], T0 + (20 + i) * MINUTE, scan=f"b{i}"), shard(group))
    gone = shard(sg("sg-4"))
    others = [sg(f"sg-{i}") for i in range(12) if i != 4 and shard(sg(f"sg-{i}")) == gone]
    feed(marker(gone, others, T0 + 40 * MINUTE, scan="c"), gone)
    for i in range(0, 12, 2):  # waste findings, kept beside the versions of their partition
        group = sg(f"sg-{i}")
        finding = WasteFinding(uid=group.uid, type=group.type, account=group.account, region=group.region,
                               pattern=("orphaned", "idle")[i % 4 // 2], reason="nobody uses it", detected_at=T0)
        for observer in (whole, parts[shards.index(shard(group)) % STORES]):
            WasteStore(observer.store.kv).put_finding(group.uid, finding.pattern,
                                                      FindingRecord.of(finding, 0, "cause"))
    return TemporalQueries(whole.store), [TemporalQueries(p.store) for p in parts]


@pytest.fixture(scope="module")
def stores():
    return estate()


QUERIES = [
    ("/v1/inventory", {}), ("/v1/inventory", {"tag": "owner=alice"}), ("/v1/inventory", {"limit": "5"}),
    ("/v1/inventory", {"at": (T0 + 30 * MINUTE).isoformat()}), ("/v1/inventory", {"uid": "sg-4", "at": "2026-11-01T12:10Z"}),
    ("/v1/changes", {"since": "2026-11-01"}), ("/v1/changes", {"since": "2026-11-01", "limit": "7"}),
    ("/v1/changes", {"since": "2026-11-01", "tag": "owner=carol"}), ("/v1/changes", {"since": "2026-11-01", "uid": "sg-5"}),
    ("/v1/diff", {"since": "2026-11-01T12:05Z"}), ("/v1/diff", {"since": "2026-11-01T12:05Z", "limit": "3"}),
    ("/v1/history", {"uid": "sg-3"}), ("/v1/who", {"uid": sg("sg-8").uid}),
    ("/v1/resource", {"uid": "sg-4", "at": "2026-11-01T12:10Z"}), ("/v1/resource", {"uid": "sg-4"}),
    ("/v1/history", {"uid": "sg-404"}), ("/v1/changes", {"since": "2026-11-01", "uid": "sg-404"}),
    ("/v1/waste", {}), ("/v1/waste", {"limit": "3"}), ("/v1/waste", {"reason": "idle", "type": "ec2.security-group"}),
    ("/v1/changes", {}), ("/v1/inventory", {"at": "soon"}), ("/v2/nothing", {}),
]


@pytest.mark.parametrize(("path", "params"), QUERIES)
def test_the_merged_answer_of_the_parts_is_the_answer_of_the_whole(stores, path, params):
    whole, parts = stores
    merged = merge(path, params, [answer_found(path, part, params) for part in parts])
    assert merged == answer(path, whole, params)
    assert merged[0] != 200 or path not in LISTS or merged[1]  # the lists compared hold something


def test_without_one_part_the_lists_differ(stores):
    # The property is not vacuous: a part left out is missed.
    whole, parts = stores
    for path, params in (("/v1/inventory", {}), ("/v1/changes", {"since": "2026-11-01"}), ("/v1/waste", {})):
        assert merge(path, params, [answer_found(path, p, params) for p in parts[:-1]]) != answer(path, whole, params)


def test_an_id_two_stores_hold_is_ambiguous_across_them():
    one, two = (Observer(VersionStore(MemoryKV())) for _ in range(2))
    one.observe(page([sg("sg-1")], T0))
    other = sg("sg-1").model_copy(update={"uid": "arn:aws:ec2:eu-west-1:999999999999:security-group/sg-1",
                                          "account": "999999999999"})
    two.observe(Observation(scan_id="s", account="999999999999", region=other.region, type=other.type,
                            shard=f"999999999999/{other.region}/{other.type}/0", page=0, observed_at=T0,
                            resources=[other]))
    answers = [answer_found("/v1/history", TemporalQueries(o.store), {"uid": "sg-1"}) for o in (one, two)]
    assert [a.status for a in answers] == [200, 200]  # each store alone knows one
    status, body = merge("/v1/history", {"uid": "sg-1"}, answers)
    assert status == 409 and body["uids"] == sorted([sg("sg-1").uid, other.uid])
    assert "'sg-1' names 2 resources; give the uid" in body["error"]


def test_every_route_is_about_one_resource_or_a_sorted_list():
    from streams.store.api import ACCEPTED
    from streams.store.openapi import OPENAPI

    for path in ROUTES:
        required = {p["name"] for p in OPENAPI["paths"][path]["get"]["parameters"] if p["required"]}
        assert "uid" in required or (path in LISTS and "limit" in ACCEPTED[path]), \
            f"{path}: say in streams/store/merge.py LISTS how its answers merge"


def test_coverage_names_partitions_missing_or_answered_twice():
    assert coverage_problem([{0, 1}, {2, 3}], 4) is None
    assert coverage_problem([{0, 1}, {3}], 4) == "no answer for partition(s) 2"
    assert coverage_problem([{0, 1, 2}, {2, 3}], 4) == "partition(s) 2 answered twice"


def test_a_found_carries_the_uid_an_id_named():
    _, parts = estate()
    holder = [answer_found("/v1/history", p, {"uid": "sg-3"}) for p in parts]
    assert sorted(f.uids for f in holder) == [(), (), (sg("sg-3").uid,)]
    assert Found(200, []).uids == ()
