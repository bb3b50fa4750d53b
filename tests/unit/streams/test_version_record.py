"""A stored version decodes, and is copied, to the same version ``Version(...)`` builds, to the byte."""

from dataclasses import replace

import orjson
import pytest

from streams.store.records import Version

CREATED = Version(uid="arn:aws:ec2:eu-west-1:1:instance/i-1", version=2, kind="modified",
                  valid_from=1_790_000_000_000_000, hash="09230ed9677e66bd", cause="585a7142caa56afb",
                  shard="1/eu-west-1/ec2.instance/0", resource={"id": "i-1", "tags": {"a": "b"}},
                  diff=[{"path": "tags.a", "op": "add", "old": None, "new": "b"}],
                  attribution={"actor": {"arn": "arn:aws:iam::1:user/alice"}},
                  edges={"security_groups": ["arn:aws:ec2:eu-west-1:1:security-group/sg-1"]})
WITHOUT_EDGES = replace(CREATED, edges={})
TOMBSTONE = replace(CREATED, kind="deleted", resource=None, hash="", diff=[], attribution=None, edges={})


@pytest.mark.parametrize("version", [CREATED, WITHOUT_EDGES, TOMBSTONE])
def test_a_record_decodes_to_the_version_it_was_written_from(version):
    decoded = Version.from_bytes(version.uid, version.to_bytes())
    assert decoded == version
    assert decoded.to_bytes() == version.to_bytes()
    assert decoded.valid_to is None
    assert repr(decoded) == repr(version)


def test_a_record_in_another_writers_shape_is_decoded_field_by_field():
    record = orjson.loads(CREATED.to_bytes())
    reordered = orjson.dumps({"kind": record.pop("kind"), **record})
    decoded = Version.from_bytes(CREATED.uid, reordered)
    assert decoded == CREATED
    assert decoded.to_bytes() == CREATED.to_bytes()  # written back in the store's own order
    older = orjson.loads(WITHOUT_EDGES.to_bytes())
    del older["attribution"]  # a record from before attributions were kept: the default fills it
    assert Version.from_bytes(CREATED.uid, orjson.dumps(older)) == replace(WITHOUT_EDGES, attribution=None)


def test_a_record_with_an_unknown_or_missing_field_is_refused_as_before():
    with pytest.raises(TypeError):
        Version.from_bytes(CREATED.uid, orjson.dumps({**orjson.loads(CREATED.to_bytes()), "colour": "red"}))
    missing = orjson.loads(CREATED.to_bytes())
    del missing["hash"]
    with pytest.raises(TypeError):
        Version.from_bytes(CREATED.uid, orjson.dumps(missing))


def test_a_copy_changes_only_the_fields_named_and_leaves_the_original():
    copy = CREATED.but(attribution={"actor": {"name": "terraform"}}, valid_to=1_790_000_000_000_001)
    assert copy == replace(CREATED, attribution={"actor": {"name": "terraform"}}, valid_to=1_790_000_000_000_001)
    assert copy.to_bytes() == replace(CREATED, attribution={"actor": {"name": "terraform"}}).to_bytes()
    assert CREATED.attribution == {"actor": {"arn": "arn:aws:iam::1:user/alice"}} and CREATED.valid_to is None
    with pytest.raises(TypeError, match="colour"):
        CREATED.but(colour="red")


def test_a_decoded_version_stays_frozen():
    decoded = Version.from_bytes(CREATED.uid, CREATED.to_bytes())
    with pytest.raises(AttributeError):
        decoded.kind = "deleted"  # type: ignore[misc]
