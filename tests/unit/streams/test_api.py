from datetime import timedelta

import pytest

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


@pytest.mark.parametrize(("path", "params", "complaint"), [
    ("/v1/changes", {"since": "99999999999d"}, "since: out of range"),
    ("/v1/changes", {"since": "1d", "until": "0001-01-01T00:00+01:00"}, "until: out of range"),
    ("/v1/inventory", {"at": "99999999999999999999999999999999s"}, "at: out of range"),
    ("/v1/history", {"uid": "x", "since": "9999-12-31T23:59:59-05:00"}, "since: out of range"),
    ("/v1/inventory", {"tag": "a"}, "tag: expected key=value"),
    ("/v1/inventory", {"tag": "owner=b,=x"}, "tag: expected key=value"),
    ("/v1/inventory", {"tags": "owner=a"}, "unknown parameter(s) tags"),
    ("/v1/changes", {"since": "1d", "type": "ec2.instance"}, "unknown parameter(s) type; /v1/changes takes"),
    ("/v1/resource", {"uid": "x", "as_of": "1d"}, "unknown parameter(s) as_of"),
])
def test_bad_parameters_answer_400_naming_them(path, params, complaint):
    status, body = answer(path, queries(), params)
    assert status == 400, body
    assert complaint in body["error"]


def test_the_widest_valid_window_answers():
    status, rows = answer("/v1/changes", queries(), {"since": "0001-01-01", "until": "9999-12-31T23:59:59Z"})
    assert status == 200 and len(rows) == 2


def test_every_documented_parameter_is_accepted():
    # The parameters an endpoint accepts are those its OpenAPI description lists.
    from streams.store.openapi import OPENAPI

    values = {"uid": sg("sg-1").uid, "since": "1d", "until": "now", "at": "now", "limit": "5", "tag": "owner=b",
              "account": "123456789012", "region": "us-east-1", "type": "ec2.security-group",
              "reason": "unattached-volume"}
    for path, spec in OPENAPI["paths"].items():
        params = {param["name"]: values[param["name"]] for param in spec["get"]["parameters"]}
        status, body = answer(path, queries(), params)
        assert status in (200, 404), (path, body)
