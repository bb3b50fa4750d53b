"""`elava trail explain FILE`: who made each CloudTrail call, and which resources it touched."""

from __future__ import annotations

import gzip
import json

from typer.testing import CliRunner

from elava.cli.main import app
from tests.unit.collectors.cloudtrail.normalize.trail_fixtures import RECORDS

runner = CliRunner()
GROUP = "arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0123456789abcdef0"


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_explain_an_eventbridge_event_as_json():
    result = runner.invoke(app, ["trail", "explain", str(RECORDS / "shapes/eventbridge-envelope.json"),
                                 "--output", "json"])
    assert result.exit_code == 0, result.output
    [explained] = _json_lines(result.stdout)
    assert list(explained) == ["event_id", "event_name", "event_source", "event_time", "region", "account", "actor",
                               "resources"]
    assert (explained["event_name"], explained["event_time"], explained["region"], explained["account"]) == (
        "AuthorizeSecurityGroupIngress", "2026-11-02T10:04:31Z", "eu-west-1", "111122223333")
    assert explained["actor"] == {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUserAccess_8a3c1e2f0b9d7c64/alice@example.com",
        "name": "alice@example.com", "role": "AWSReservedSSO_PowerUserAccess_8a3c1e2f0b9d7c64", "kind": "human",
        "via": "cli", "source_ip": "203.0.113.24"}
    assert explained["resources"] == [{"uid": GROUP, "type": "ec2.security-group", "id": "sg-0123456789abcdef0"}]


def test_the_event_id_is_cloudtrails_event_id():
    record = json.loads((RECORDS / "families/security-groups.json").read_text())["Records"][1]
    result = runner.invoke(app, ["trail", "explain", str(RECORDS / "shapes/eventbridge-envelope.json"), "-o", "json"])
    assert _json_lines(result.stdout)[0]["event_id"] == record["eventID"]


def test_explain_a_gzipped_log_file_one_line_per_record(tmp_path):
    path = tmp_path / "111122223333_CloudTrail_eu-west-1_20261102T1005Z_abc.json.gz"
    path.write_bytes(gzip.compress((RECORDS / "families/ec2-tags.json").read_bytes()))
    result = runner.invoke(app, ["trail", "explain", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    create, delete = _json_lines(result.stdout)
    assert len(create["resources"]) == 9 and [r["type"] for r in delete["resources"]] == ["ec2.instance"]


def test_failed_and_read_only_calls_touch_nothing_and_the_table_says_why():
    path = str(RECORDS / "unchanged.json")
    assert all(e["resources"] == [] for e in _json_lines(runner.invoke(app, ["trail", "explain", path,
                                                                             "-o", "json"]).stdout))
    result = runner.invoke(app, ["trail", "explain", path], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "failed: Client.UnauthorizedOperation" in result.stdout and "read-only" in result.stdout


def test_the_table_names_the_actor_and_the_uids():
    result = runner.invoke(app, ["trail", "explain", str(RECORDS / "identities/session-lambda.json")],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for expected in ("CreateTags", "orders-api-role-x1y2z3w4", "automation", "lambda",
                     "arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60001"):
        assert expected in result.stdout, expected


def test_what_is_not_cloudtrail_is_an_error(tmp_path):
    path = tmp_path / "not-trail.json"
    path.write_text(json.dumps({"detail-type": "EC2 Instance State-change Notification", "detail": {}}))
    result = runner.invoke(app, ["trail", "explain", str(path)])
    assert result.exit_code == 1
    assert "not a CloudTrail record" in result.output


def test_a_json_lines_file_explains_every_good_record_and_names_each_bad_line(tmp_path):
    records = json.loads((RECORDS / "families/amis.json").read_text())["Records"]
    bad_time = {**records[1], "eventTime": "yesterday"}
    lines = [json.dumps(records[0]), "{truncated", json.dumps(bad_time), json.dumps({"hello": "world"}),
             json.dumps(records[2])]
    path = tmp_path / "trail.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["trail", "explain", str(path), "-o", "json"])
    assert result.exit_code == 1
    assert [e["event_name"] for e in _json_lines(result.stdout)] == ["CreateImage", "DeregisterImage"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert [e.split(": ", 3)[2] for e in errors] == ["line 2", "line 3", "line 4"]
    assert "not JSON" in errors[0] and "eventTime 'yesterday'" in errors[1] and "not a CloudTrail record" in errors[2]
    assert "2 records explained, 3 could not be read" in result.stderr
    table = runner.invoke(app, ["trail", "explain", str(path)], env={"COLUMNS": "200"})
    assert table.exit_code == 1 and "CreateImage" in table.stdout and "DeregisterImage" in table.stdout


def test_a_log_file_names_its_bad_record_by_path(tmp_path):
    log = json.loads((RECORDS / "families/amis.json").read_text())
    log["Records"][1]["eventTime"] = 17
    path = tmp_path / "log.json.gz"
    path.write_bytes(gzip.compress(json.dumps(log).encode()))
    result = runner.invoke(app, ["trail", "explain", str(path), "-o", "json"])
    assert result.exit_code == 1 and len(_json_lines(result.stdout)) == 2
    assert ".Records[1]: eventTime 17 is not an ISO-8601 time" in result.stderr


def test_a_missing_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["trail", "explain", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
