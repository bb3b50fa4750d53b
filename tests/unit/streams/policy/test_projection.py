"""Policies get the attributes they name; any other use of attributes gets them all."""

from __future__ import annotations

from streams.policy.projection import projection_for

DOCUMENT = {"resource": {"attributes": {"a": 1, "b": 2, "c": 3}, "metadata": {"a": 1, "b": 2, "c": 3}},
            "change": {"kind": "modified", "diff": [{"path": "a", "op": "replace", "old": 0, "new": 1}]}}


def test_named_attributes_only():
    projection = projection_for(["x if input.resource.attributes.a == 1\ny if input.resource.metadata.b"])
    projected = projection.apply(DOCUMENT)
    assert projected["resource"]["attributes"] == projected["resource"]["metadata"] == {"a": 1, "b": 2}
    assert projected["change"]["diff"] == [] and DOCUMENT["change"]["diff"]  # the original is untouched


def test_any_other_use_keeps_every_attribute():
    for source in ['x := object.get(input.resource.attributes, "a", 0)', 'x := input.resource.attributes["a"]',
                   'msg := "attributes are missing"']:
        assert projection_for(["y if input.resource.attributes.b", source]).apply(DOCUMENT)["resource"] == (
            DOCUMENT["resource"])


def test_comments_do_not_count_and_diff_is_kept_when_read():
    projection = projection_for(["# reads attributes as a whole\nx if some d in input.change.diff"])
    assert projection.apply(DOCUMENT)["change"] == DOCUMENT["change"]
    assert projection.apply(DOCUMENT)["resource"]["attributes"] == {}
