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
    ("/v1/changes", {"since": "1d", "types": "ec2.instance"}, "unknown parameter(s) types; /v1/changes takes"),
    ("/v1/diff", {"until": "1d"}, "since is required"),
    ("/v1/diff", {"since": "1d", "until": "2d"}, "until: before since"),
    ("/v1/diff", {"since": "1d", "tag": "env"}, "tag: expected key=value"),
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
              "reason": "unattached-volume", "severity": "high", "pattern": "flapping", "depth": "2"}
    for path, spec in OPENAPI["paths"].items():
        params = {param["name"]: values[param["name"]] for param in spec["get"]["parameters"]}
        status, body = answer(path, queries(), params)
        assert status in (200, 404), (path, body)


def test_diff_answers_the_net_difference_with_the_field_diff():
    observer = Observer(VersionStore(MemoryKV()))
    observer.observe(page([sg("sg-1", {"owner": "a"})], T0, scan="s1"))
    observer.observe(page([sg("sg-1", {"owner": "b"})], T0 + timedelta(hours=1), scan="s2"))
    observer.observe(page([sg("sg-1", {"owner": "c"})], T0 + timedelta(hours=2), scan="s3"))
    q, t1 = TemporalQueries(observer.store), (T0 + timedelta(minutes=30)).isoformat()
    status, rows = answer("/v1/diff", q, {"since": t1, "until": (T0 + timedelta(hours=3)).isoformat()})
    assert status == 200
    assert [(r["uid"], r["change"], r["from_version"], r["to_version"], r["versions_between"]) for r in rows] == [
        (sg("sg-1").uid, "modified", 1, 3, 2)]
    assert rows[0]["diff"] == [{"path": "tags.owner", "op": "replace", "old": "a", "new": "c"}]
    assert rows[0]["before"]["tags"] == {"owner": "a"} and rows[0]["after"]["tags"] == {"owner": "c"}
    assert answer("/v1/diff", q, {"since": t1, "type": "s3.bucket"}) == (200, [])
    status, body = answer("/v1/diff", q, {"since": t1, "uid": "arn:aws:ec2:eu-west-1:1:security-group/other"})
    assert status == 404 and "no resource 'arn:aws:ec2:eu-west-1:1:security-group/other'" in body["error"]
    status, created = answer("/v1/diff", q, {"since": (T0 - timedelta(hours=1)).isoformat(), "tag": "owner=c"})
    assert [r["change"] for r in created] == ["created"]


def test_changes_take_the_diff_filters():
    q = queries()
    status, rows = answer("/v1/changes", q, {"since": "0001-01-01", "tag": "owner=a"})  # a before the change
    assert status == 200 and [r["version"] for r in rows] == [1, 2]
    assert answer("/v1/changes", q, {"since": "0001-01-01", "type": "s3.bucket"}) == (200, [])
    status, rows = answer("/v1/changes", q, {"since": "0001-01-01", "uid": sg("sg-1").uid, "limit": "1"})
    assert [r["version"] for r in rows] == [1]


def test_the_published_openapi_document_is_current():
    # docs/openapi.json is what `python3 -m streams.store.openapi --write` makes of the served description.
    from streams.store.openapi import DOCUMENT, rendered

    assert DOCUMENT.read_text() == rendered(), "run: python3 -m streams.store.openapi --write"


def test_an_id_stands_for_the_uid_it_names_and_an_ambiguous_one_is_refused():
    q = queries()
    assert answer("/v1/history", q, {"uid": "sg-1"}) == answer("/v1/history", q, {"uid": sg("sg-1").uid})
    status, body = answer("/v1/who", q, {"uid": "sg-9"})
    assert status == 404 and body["error"].startswith("no resource 'sg-9' in the store")
    other = sg("sg-1").model_copy(update={"uid": "arn:aws:ec2:eu-west-1:999999999999:security-group/sg-1"})
    Observer(q.store).observe(page([sg("sg-2")], T0).model_copy(update={"resources": [other]}))
    status, body = answer("/v1/resource", q, {"uid": "sg-1"})
    assert status == 409 and body["uids"] == sorted([sg("sg-1").uid, other.uid])
    assert answer("/v1/resource", q, {"uid": other.uid})[0] == 200  # the uid is never ambiguous


def test_inventory_of_one_resource_as_it_was_then():
    q, later = queries(), (T0 + timedelta(hours=2)).isoformat()
    status, rows = answer("/v1/inventory", q, {"uid": "sg-1", "at": later})
    assert status == 200 and [(r["uid"], r["version"], r["tags"]) for r in rows] == [(sg("sg-1").uid, 2, {"owner": "b"})]
    assert answer("/v1/inventory", q, {"uid": "sg-1", "at": later, "tag": "owner=a"}) == (200, [])
    assert answer("/v1/inventory", q, {"uid": "sg-1", "at": (T0 - timedelta(hours=1)).isoformat()}) == (200, [])
