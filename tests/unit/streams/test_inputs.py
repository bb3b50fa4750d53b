import pytest

from elava.events import cloudevent_headers
from elava.exceptions import SchemaError
from streams.inputs import parse_observation_message
from tests.unit.streams.fixtures import T0, marker, page, sg, shard


def test_page_and_marker_are_recognised_by_ce_type():
    obs = page([sg("sg-1")], T0)
    mark = marker(shard(sg("sg-1")), [sg("sg-1")], T0)
    assert parse_observation_message(obs.shard.encode(), obs.to_bytes(), cloudevent_headers(obs, "t")) == obs
    assert parse_observation_message(mark.shard.encode(), mark.to_bytes(), cloudevent_headers(mark, "t")) == mark


@pytest.mark.parametrize("key, value, headers, reason", [
    (b"", b"{}", [("ce_type", b"elava.observation")], "empty key"),
    (b"k", b"", [("ce_type", b"elava.observation")], "empty value"),
    (b"k", b"{}", [], "missing ce_type"),
    (b"k", b"{}", [("ce_type", b"elava.nope")], "unknown or missing ce_type"),
    (b"k", b"\xff\xfe", [("ce_type", b"elava.observation")], "not valid JSON"),
])
def test_malformed_input_is_a_schema_error(key, value, headers, reason):
    with pytest.raises(SchemaError, match=reason):
        parse_observation_message(key, value, headers)


def test_key_must_match_the_shard_in_the_body():
    obs = page([sg("sg-1")], T0)
    with pytest.raises(SchemaError, match="does not match the shard"):
        parse_observation_message(b"other/shard", obs.to_bytes(), cloudevent_headers(obs, "t"))
