"""`elava policy list | eval | test` on the shipped policies and on broken ones."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from elava.cli.main import app

runner = CliRunner()
SHIPPED = Path(__file__).resolve().parents[4] / "policies"
OPEN_SSH = {"type": "ec2.security-group", "id": "sg-1", "tags": {"owner": "a", "environment": "dev"},
            "attributes": {"ingress": [{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}]}}


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_list_shows_each_policy_with_its_effective_mode():
    result = runner.invoke(app, ["policy", "list", "--path", str(SHIPPED), "--mode", "monitor"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "global enforcement mode: monitor" in result.stdout
    rows = {cells[0]: cells[1:3] for cells in _table_rows(result.stdout)}
    assert rows["unattached_volume"] == ["notify", "monitor"] and rows["tagging"] == ["enforce", "monitor"]


def _table_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in text.splitlines()
            if line.startswith("│") and line[1:].strip()[:1].isalpha()]


def test_eval_prints_decisions_and_requests_as_json(tmp_path):
    resource = tmp_path / "sg.json"
    resource.write_text(json.dumps(OPEN_SSH))
    result = runner.invoke(app, ["policy", "eval", str(resource), "--path", str(SHIPPED), "--output", "json"])
    assert result.exit_code == 0, result.output
    deny, decision, request = _json_lines(result.stdout)
    assert (deny["policy"], deny["decision"]) == ("open_admin_ports", "deny")
    assert (request["action"], request["mode"], request["decision_id"]) == ("notify", "notify", decision["event_id"])


def test_eval_reads_json_lines_of_a_scan(tmp_path):
    resources = tmp_path / "scan.jsonl"
    quiet = {**OPEN_SSH, "id": "sg-2", "attributes": {"ingress": []}, "tracked": True, "risks": []}
    resources.write_text(f"{json.dumps(quiet)}\n{json.dumps(OPEN_SSH)}\n")
    result = runner.invoke(app, ["policy", "eval", str(resources), "--path", str(SHIPPED), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert {line["uid"].rsplit("/", 1)[1] for line in _json_lines(result.stdout)} == {"sg-1"}


def test_the_shipped_cases_pass():
    result = runner.invoke(app, ["policy", "test", "--path", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.stdout


def test_a_failing_case_fails_the_command(tmp_path):
    (tmp_path / "d.rego").write_text('package elava.d\n\nimport rego.v1\n\ndeny contains "no" if true\n')
    (tmp_path / "d_test.yaml").write_text("cases:\n  - name: expects silence\n    resource: {type: s3.bucket}\n")
    result = runner.invoke(app, ["policy", "test", "--path", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL  d: expects silence" in result.stdout


def test_a_broken_policy_is_reported_with_its_file(tmp_path):
    (tmp_path / "b.rego").write_text("package elava.b\n\ndeny contains msg if {\n")
    result = runner.invoke(app, ["policy", "list", "--path", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'b.rego'}: does not compile: " in result.stderr
    assert "line 3: this is unclosed" in result.stderr


def test_list_and_test_refuse_rego_v0_with_file_line_and_the_v1_form(tmp_path):
    (tmp_path / "old.rego").write_text('package elava.old\n\nimport rego.v1\n\ndeny[msg] {\n\tmsg := "x"\n}\n')
    for command in ("list", "test"):
        result = runner.invoke(app, ["policy", command, "--path", str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert (f"{tmp_path / 'old.rego'}: line 5: Rego v0 syntax `deny[msg] {{`; "
                "Rego v1: write `deny contains msg if {`") in result.stderr
