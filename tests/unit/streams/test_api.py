from datetime import timedelta

from streams.observe import Observer
from streams.store.api import answer
from streams.store.kv import MemoryKV
from streams.store.queries import TemporalQueries
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, page, sg


def queries():
    observer = Observer(VersionStore(MemoryKV()))
    observer.observe(page([sg("sg-1", {"owner": "a"})], T0, scan="s1"))
    observer.observe(page([sg("sg-1", {"owner": "b"})], T0 + timedelta(hours=1), scan="s2"))
    return TemporalQueries(observer.store)


def test_history_and_as_of():
    q, uid = queries(), sg("sg-1").uid
    status, history = answer("/v1/history", q, {"uid": uid})
    assert status == 200 and [v["version"] for v in history] == [1, 2]
    status, then = answer("/v1/resource", q, {"uid": uid, "at": (T0 + timedelta(minutes=5)).isoformat()})
    assert status == 200 and then["resource"]["tags"] == {"owner": "a"}


def test_errors_are_clear():
    q = queries()
    assert answer("/v1/history", q, {}) == (400, {"error": "uid is required"})
    assert answer("/v1/changes", q, {}) == (400, {"error": "since is required"})
    status, body = answer("/v1/resource", q, {"uid": "nope"})
    assert status == 404 and "nope" in body["error"]
    status, body = answer("/v1/inventory", q, {"at": "yesterday-ish"})
    assert status == 400 and body["error"].startswith("at:")
    assert answer("/v2/none", q, {})[0] == 404


def test_inventory_filters_and_limits():
    q = queries()
    status, rows = answer("/v1/inventory", q, {"tag": "owner=b", "limit": "5"})
    assert status == 200 and [r["uid"] for r in rows] == [sg("sg-1").uid]
    assert answer("/v1/inventory", q, {"tag": "owner=a"}) == (200, [])
