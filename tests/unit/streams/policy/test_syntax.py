"""Rego v0 rule heads are refused at load, with the file, the line and the v1 form to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.policy import PolicyLoadError
from streams.policy.syntax import v0_problems

SHIPPED = Path(__file__).resolve().parents[4] / "policies"


@pytest.mark.parametrize(("rule", "line", "hint"), [
    ('deny[msg] {\n\tmsg := "old"\n}', 6, "deny contains msg if {"),
    ('deny[msg] if {\n\tmsg := "a partial object, not a set"\n}', 6, "deny contains msg if {"),
    ('actions[a] {\n\ta := {"type": "notify"}\n}', 6, "actions contains a if {"),
    ('deny contains msg {\n\tmsg := "no if"\n}', 6, "deny contains msg if {"),
    ("allow {\n\ttrue\n}", 6, "allow if {"),
    ("helper[k] { k := 1 }", 6, "helper contains k if {"),
    ('x := 1 if { false } else := 2 {\n\ttrue\n}', 6, "else := 2 if {"),
])
def test_a_v0_head_is_refused_naming_file_line_and_v1_form(write_policy, engine_for, rule, line, hint):
    path = write_policy("old", f"# a comment: deny[msg] {{ }} is not code\n{rule}")
    with pytest.raises(PolicyLoadError) as caught:
        engine_for()
    message = str(caught.value)
    assert message.startswith(f"{path}: line {line}: Rego v0 syntax"), message
    assert f"Rego v1: write `{hint}`" in message


def test_every_v0_head_of_a_file_is_listed_in_order():
    source = "package elava.p\n\nallow {\n\ttrue\n}\n\ndeny[msg] {\n\tmsg := \"{ not a brace\"\n}\n"
    assert [(p.line, p.hint) for p in v0_problems(source)] == [(3, "allow if {"), (7, "deny contains msg if {")]


@pytest.mark.parametrize("rule", [
    'deny contains msg if {\n\tmsg := "fine"\n}',
    'x := {"a": {"b": 1}}\ndeny contains "x" if { x.a.b == 1 }',
    'actions contains {"type": "notify"} if {\n\ttrue\n}',
    'f(x) := y if {\n\ty := x\n}',
    "helper[k] := v if { k := 1; v := 2 }",
    'x := 1 if { false } else := 2 if {\n\ttrue\n}',
    'default allow := false\nallow if input.resource.id == "i-1"',
    'deny contains msg if {\n\tmsg := `raw { string`\n}',
    'ports := {22, 3389}\nnames := [n | some n in ["a", "b"]]',
])
def test_v1_rules_load(write_policy, engine_for, rule):
    write_policy("fine", rule)
    assert [p.name for p in engine_for().policies] == ["fine"]


def test_the_shipped_policies_are_v1():
    for path in sorted(SHIPPED.glob("*.rego")):
        assert v0_problems(path.read_text()) == [], path
