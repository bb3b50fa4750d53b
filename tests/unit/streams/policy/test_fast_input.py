"""The input builder hands regopy exactly the document regopy's own Input would."""

from __future__ import annotations

import pytest
from regopy import Interpreter

from streams.policy.fast_input import InputError, make_input

DOCUMENT = {"resource": {"id": "i-1", "tags": {"owner": "ünïcode ✓"}, "attributes": {
    "size": 8, "ratio": 0.5, "on": True, "off": False, "none": None, "nested": [{"a": [1, "two", None]}], "empty": {}}}}


def _echo(value):
    builder = Interpreter()
    builder.add_module("echo.rego", "package echo\n\nimport rego.v1\n\nr := input\n")
    bundle = builder.build("x = data.echo.r", [])
    runner = Interpreter()
    runner.set_input(value)
    return runner.query_bundle(bundle).results[0]["x"]


def test_the_document_arrives_unchanged():
    assert _echo(make_input(DOCUMENT)) == _echo(DOCUMENT) == DOCUMENT


def test_a_value_that_is_not_json_is_refused():
    with pytest.raises(InputError, match="datetime"):
        from datetime import datetime
        make_input({"at": datetime(2026, 1, 1)})
