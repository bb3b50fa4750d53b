"""`elava history | at | changes | diff | who` on an embedded store built in a temporary directory."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from elava.cli.main import app
from streams.observe import Observer
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import marker, page, sg, shard

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SG1 = sg("sg-1").uid


def build_store(path, t0=T0):
    """sg-1: created, then its owner changes; sg-2: created, then deleted; sg-3: appears late."""
    kv = RocksKV(path)
    observer = Observer(VersionStore(kv))
    observer.observe(page([sg("sg-1", {"owner": "alice", "env": "prod"})], t0, scan="a"))
    observer.observe(page([sg("sg-1", {"owner": "bob", "env": "prod"})], t0 + 2 * HOUR, scan="b"))
    observer.observe(page([sg("sg-2", {"env": "dev"})], t0 + HOUR, scan="c"))
    others = [sg(i) for i in ("sg-1", "sg-3") if shard(sg(i)) == shard(sg("sg-2"))]
    observer.close_scan(marker(shard(sg("sg-2")), others, t0 + 3 * HOUR, scan="d"))
    observer.observe(page([sg("sg-3")], t0 + 4 * HOUR, scan="e"))
    kv.close()


@pytest.fixture
def config(tmp_path):
    build_store(tmp_path / "store")
    path = tmp_path / "elava.yaml"
    path.write_text(f"storage:\n  path: {tmp_path / 'store'}\n")
    return path


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "220"})
    return result


def lines(result):
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_history_lists_every_version_with_what_changed(config):
    result = run("history", SG1, "--config", config)
    assert result.exit_code == 0, result.output
    assert "v1" in result.stdout and "v2" in result.stdout and "tag owner changed 'alice' -> 'bob'" in result.stdout
    records = lines(run("history", "sg-1", "--output", "json", "--config", config))  # an id is enough
    assert [(r["version"], r["kind"]) for r in records] == [(1, "created"), (2, "modified")]
    assert records[0]["valid_to"] == records[1]["valid_from"] == "2026-11-01T14:00:00+00:00"


def test_history_window_keeps_versions_valid_in_it(config):
    records = lines(run("history", SG1, "--since", "2026-11-01T15:00Z", "-o", "json", "-c", config))
    assert [r["version"] for r in records] == [2]


def test_at_shows_the_inventory_of_then_and_filters_it(config):
    at_two = lines(run("at", "2026-11-01T13:30:00Z", "--output", "json", "--config", config))
    assert sorted((r["id"], r["tags"].get("owner")) for r in at_two) == [("sg-1", "alice"), ("sg-2", None)]
    prod = lines(run("at", "2026-11-01T13:30:00Z", "--tag", "env=prod", "-o", "json", "-c", config))
    assert [r["id"] for r in prod] == ["sg-1"]
    assert lines(run("at", "2026-11-01T13:30Z", "--type", "s3.bucket", "-o", "json", "-c", config)) == []
    assert lines(run("at", "2026-11-01T13:30Z", "--account", "111122223333", "--region", "eu-west-1",
                     "-o", "json", "-c", config)) == at_two
    table = run("at", "2026-11-01T20:00Z", "--config", config)
    assert table.exit_code == 0 and "2 resources as of 2026-11-01 20:00:00 UTC" in table.stdout


def test_at_with_a_uid_shows_that_resource_then(config):
    (record,) = lines(run("at", "2026-11-01T12:30Z", "sg-1", "-o", "json", "-c", config))
    assert (record["version"], record["tags"]["owner"]) == (1, "alice")
    assert lines(run("at", "2026-11-01T11:00Z", "sg-1", "-o", "json", "-c", config)) == []


def test_changes_between_two_times_in_time_order(config):
    records = lines(run("changes", "--since", "2026-11-01T13:00Z", "--until", "2026-11-01T15:00Z",
                        "-o", "json", "-c", config))
    assert [(r["id"], r["kind"]) for r in records] == [("sg-2", "created"), ("sg-1", "modified"),
                                                       ("sg-2", "deleted")]
    assert records[2]["resource"] is None and records[2]["type"] == "ec2.security-group"  # what went
    table = run("changes", "--since", "2026-11-01T00:00Z", "--config", config)
    assert table.exit_code == 0 and "5 changes" in table.stdout and "absent from a complete scan" in table.stdout


def test_changes_take_uid_type_account_and_tag_filters(config):
    def ids(*options):
        return [(r["id"], r["kind"]) for r in lines(run("changes", "--since", "2026-11-01T00:00Z", *options,
                                                         "-o", "json", "-c", config))]

    assert ids("--uid", "sg-2") == [("sg-2", "created"), ("sg-2", "deleted")]
    assert ids("--tag", "owner=alice") == [("sg-1", "created"), ("sg-1", "modified")]  # alice before the change
    assert ids("--type", "s3.bucket") == [] and ids("--account", "999999999999") == []
    assert len(ids("--type", "ec2.security-group", "--account", "111122223333")) == 5


def test_diff_is_the_net_difference_between_two_times(config):
    records = lines(run("diff", "2026-11-01T12:30Z", "2026-11-01T17:00Z", "-o", "json", "-c", config))
    # sg-2 was created at 13:00 and deleted at 15:00: at neither end, so in neither list.
    assert [(r["id"], r["change"], r["from_version"], r["to_version"]) for r in records] == [
        ("sg-1", "modified", 1, 2), ("sg-3", "created", None, 1)]
    assert records[0]["diff"] == [{"path": "tags.owner", "op": "replace", "old": "alice", "new": "bob"}]
    deleted = lines(run("diff", "2026-11-01T13:30Z", "2026-11-01T17:00Z", "--tag", "env=dev", "-o", "json",
                        "-c", config))
    assert [(r["id"], r["change"], r["before"]["tags"], r["after"]) for r in deleted] == [
        ("sg-2", "deleted", {"env": "dev"}, None)]
    assert lines(run("diff", "2026-11-01T12:30Z", "2026-11-01T17:00Z", "--uid", "sg-3", "-o", "json",
                     "-c", config))[0]["change"] == "created"
    assert lines(run("diff", "2026-11-01T12:30Z", "2026-11-01T17:00Z", "--type", "s3.bucket", "-o", "json",
                     "-c", config)) == []
    table = run("diff", "2026-11-01T12:30Z", "2026-11-01T17:00Z", "-c", config)
    assert table.exit_code == 0, table.output
    assert "tag owner changed 'alice' -> 'bob'" in table.stdout and "v1 -> v2" in table.stdout
    assert "1 created, 1 modified, 0 deleted (2026-11-01 12:30:00 -> 2026-11-01 17:00:00 UTC)" in table.stdout


def test_diff_refuses_a_window_backwards(config):
    result = run("diff", "2026-11-01T17:00Z", "2026-11-01T12:30Z", "-c", config)
    assert result.exit_code == 2 and "T2 is before T1" in result.output


def test_who_says_unknown_until_attribution_lands(config):
    result = run("who", SG1, "--config", config)
    assert result.exit_code == 0 and "unknown" in result.stdout
    records = lines(run("who", SG1, "-o", "json", "-c", config))
    assert [(r["version"], r["actor"], r["method"], r["attributed"]) for r in records] == [
        (1, "unknown", None, False), (2, "unknown", None, False)]


def test_relative_times_mean_that_long_ago(tmp_path):
    build_store(tmp_path / "store", t0=datetime.now(UTC) - 5 * HOUR)  # changes at -5h, -4h, -3h, -2h, -1h
    config = tmp_path / "elava.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'store'}\n")
    records = lines(run("changes", "--since", "150m", "-o", "json", "-c", config))
    assert [(r["id"], r["kind"]) for r in records] == [("sg-2", "deleted"), ("sg-3", "created")]
    assert {r["id"] for r in lines(run("at", "4h", "-o", "json", "-c", config))} == {"sg-1", "sg-2"}


def digest_of(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_queries_leave_the_store_as_they_found_it_even_while_a_writer_holds_it(config, tmp_path):
    before = digest_of(tmp_path / "store")
    for args in (["history", SG1], ["at", "2026-11-01T13:00Z"], ["changes", "--since", "2026-11-01"],
                 ["diff", "2026-11-01"], ["who", SG1]):
        assert run(*args, "-o", "json", "-c", config).exit_code == 0
    assert digest_of(tmp_path / "store") == before
    writer = RocksKV(tmp_path / "store")  # a scan running: the queries still read
    try:
        assert len(lines(run("history", SG1, "-o", "json", "-c", config))) == 2
    finally:
        writer.close()


def test_clear_errors(config, tmp_path):
    missing = tmp_path / "missing.yaml"
    missing.write_text(f"storage:\n  path: {tmp_path / 'nowhere'}\n")
    result = run("at", "now", "-c", missing)
    assert result.exit_code == 1 and "no store at" in result.stderr
    result = run("history", "sg-404", "-c", config)
    assert result.exit_code == 1 and "no resource 'sg-404'" in result.stderr
    result = run("changes", "--since", "yesterday", "-c", config)
    assert result.exit_code == 2 and "not a time: 'yesterday'" in result.output
    result = run("at", "now", "--tag", "env", "-c", config)
    assert result.exit_code == 2 and "expected key=value" in result.output


def test_a_query_api_that_cannot_be_reached_is_named(config):
    from elava.demo.simulated import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run("history", SG1, "--api", url, "-c", config)
    assert result.exit_code == 1 and f"cannot reach the query API at {url}" in result.stderr
    result = CliRunner().invoke(app, ["who", SG1, "-c", str(config)], env={"ELAVA_API__URL": url})
    assert result.exit_code == 1 and "cannot reach the query API" in result.stderr  # api.url, as --api
