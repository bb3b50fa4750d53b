"""sprintf for the Wasm engine says what OPA's own sprintf says (outputs of `opa eval`, OPA 1.22.3)."""

from __future__ import annotations

import pytest

from streams.policy.gofmt import rego_text, sprintf


@pytest.mark.parametrize(("template", "args", "opa_says"), [
    ("security group %s lets the internet reach port %d", ["sg-1", 22], "security group sg-1 lets the internet reach port 22"),
    ("ports %v", [[22, 3389]], "ports [22, 3389]"),
    ("volume %s (%v GiB)", ["vol-1", None], "volume vol-1 (null GiB)"),
    ("%v", [{"b": 1, "a": [1, "x"]}], '{"a": [1, "x"], "b": 1}'),
    ("%v %v %v", [True, 1.5, 1000000.0], "true 1.5 1e+06"),
    ("%s", [3], "%!s(int64=3)"),
    ("%d", [2.0], "%!d(float64=2)"),
    ("%q|%5.2f|%x", ["q", 3.14159, 255], '"q"| 3.14|ff'),
    ("%v", [12345678901234567890], "12345678901234567890"),
    ("%s %s", ["one"], "one %!s(MISSING)"),
    ("%s", ["a", "b"], "a%!(EXTRA string=b)"),
    ("100%% %s", ["done"], "100% done"),
    ("%-4s|%04d", ["a", 7], "a   |0007"),
])
def test_sprintf_says_what_opa_says(template, args, opa_says):
    assert sprintf(template, args) == opa_says


@pytest.mark.parametrize(("value", "go"), [
    (0.0001, "0.0001"), (0.00001, "1e-05"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (-2.5, "-2.5"), (0.1, "0.1"), (1e21, "1e+21"), (100.0, "100"),
])
def test_floats_print_as_go_prints_them(value, go):
    assert sprintf("%v", [value]) == go


def test_values_print_as_rego_terms():
    assert rego_text({"k": ["v", None, False]}) == '{"k": ["v", null, false]}'
