"""A page read lazily says what the fully validated page says: same header, same event id,
and for every valid resource a raw content hash equal to the validated one's."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elava.events import Observation, Resource
from elava.exceptions import SchemaError
from streams.inputs import parse_observation_message, read_observation_message
from streams.pages import RawPage, json_form, raw_content_hash, read_page, validate_resource
from tests.unit.streams.fixtures import T0, page, sg

OBSERVATION = [("ce_type", b"elava.observation")]
MISSING = object()  # a field left out of the JSON

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)  # any unicode but lone surrogates
numbers = (st.integers(-(2**63), 2**64 - 1) | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([0.1, -0.0, 1.0, 1e-300, 5e-324, 1.7976931348623157e308, 2.5e-8, 1e16, 123456789.125]))
json_values = st.recursive(st.none() | st.booleans() | numbers | texts,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                           max_leaves=20)


@st.composite
def raw_resources(draw) -> dict:
    """A valid resource as JSON may spell it: optional fields missing or null, extra fields, any content."""
    resource = {field: draw(texts) for field in ("uid", "type", "id", "account", "region")}
    optional = {"name": draw(st.just(MISSING) | st.none() | texts),
                "tags": draw(st.just(MISSING) | st.dictionaries(texts, texts, max_size=4)),
                "attributes": draw(st.just(MISSING) | st.dictionaries(texts, json_values, max_size=5)),
                "extra": draw(st.just(MISSING) | json_values)}
    resource.update({key: value for key, value in optional.items() if value is not MISSING})
    return dict(sorted(resource.items(), key=lambda _: draw(st.integers())))  # any key order


@st.composite
def page_bytes(draw) -> bytes:
    body = {"scan_id": draw(texts), "account": "111122223333", "region": "eu-west-1", "type": "ec2.instance",
            "shard": "111122223333/eu-west-1/ec2.instance/1", "page": draw(st.integers(0, 10**6)),
            "observed_at": draw(st.sampled_from(["2026-11-01T12:00:00+00:00", "2026-11-01T12:00:00Z",
                                                  "2026-11-01T12:00:00.123456+02:00"])),
            "resources": draw(st.lists(raw_resources(), max_size=6))}
    event_id = draw(st.sampled_from([MISSING, "", "given-by-the-collector"]))
    if event_id is not MISSING:
        body["event_id"] = event_id
    if draw(st.booleans()):
        body["shard_buckets"] = draw(st.none() | st.integers(1, 64))
    # Python's encoder writes big integers exactly and, with ensure_ascii, non-ASCII as \\u escapes.
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page_bytes())
def test_a_lazily_read_page_is_the_validated_page(data):
    full = Observation.from_bytes(data)
    lazy = read_page(data)
    assert lazy is not None
    assert lazy.event_id == full.event_id
    assert lazy.header == full.model_copy(update={"resources": []})
    assert len(lazy.resources) == len(full.resources)
    for raw, resource in zip(lazy.resources, full.resources, strict=True):
        assert validate_resource(raw) == resource
        # The stored form: same keys in the same order, same values of the same types (json.dumps
        # tells 1 from 1.0 and True, and -0.0 from 0.0, where == does not).
        assert json.dumps(json_form(validate_resource(raw))) == json.dumps(resource.model_dump(mode="json"))
        assert json.dumps(json_form(resource)) == json.dumps(resource.model_dump(mode="json"))
        try:
            expected = resource.content_hash()
        except TypeError:  # beyond 64 bits: no hash either way (a processing error, as before)
            with pytest.raises(TypeError):
                raw_content_hash(raw)
            continue
        assert raw_content_hash(raw) == expected


@pytest.mark.parametrize("resource", [
    {"tags": None}, {"tags": {"team": 1}}, {"tags": []}, {"name": 5}, {"name": ["a"]},
    {"attributes": None}, {"attributes": [1, 2]}, {"attributes": "x"},
])
def test_invalid_content_hashes_unlike_the_valid_content_it_resembles(resource):
    """What pydantic refuses never takes the hash of a valid resource, so it never looks unchanged."""
    identity = {"uid": "u", "type": "t", "id": "i", "account": "a", "region": "r"}
    with pytest.raises(ValueError):
        validate_resource({**identity, **resource})
    near = {"tags": {"team": "1"}, "name": "5", "attributes": {}}
    for valid in (Resource(**identity), Resource(**identity, **near)):
        assert raw_content_hash({**identity, **resource}) != valid.content_hash()


@pytest.mark.parametrize("data", [
    b"[1]", b"not json", b"\xff\xfe", b'{"resources": 1}', b'{"resources": [{"uid": "\\ud800"}]}',
    orjson.dumps({**orjson.loads(page([sg("sg-1")], T0).to_bytes()), "schema_version": 2}),
    orjson.dumps({**orjson.loads(page([sg("sg-1")], T0).to_bytes()), "observed_at": "yesterday"}),
])
def test_what_the_fast_path_cannot_read_is_left_to_the_full_parse(data):
    assert read_page(data) is None


@pytest.mark.parametrize("value", [b"NaN", b"-Infinity", b"1e400", b"18446744073709551616", b"-9223372036854775809",
                                   b"0.30000000000000004", b'"\\ud83d\\ude00 \\u00e9"'])
def test_values_are_read_as_the_full_parse_reads_them(value):
    """One JSON parser for both (pydantic's): what orjson would read otherwise (NaN, big integers) too."""
    data = page([sg("sg-1")], T0).to_bytes().replace(b'"vpc-1"', value)
    full, lazy = Observation.from_bytes(data), read_page(data)
    raw = lazy.resources[0]["attributes"]["vpc_id"]
    assert repr(validate_resource(lazy.resources[0])) == repr(full.resources[0])  # NaN != NaN: compare reprs
    assert type(raw) is type(full.resources[0].attributes["vpc_id"]) and repr(raw) == repr(
        full.resources[0].attributes["vpc_id"])


@pytest.mark.parametrize("field, value", [("uid", 5), ("type", None), ("id", ["x"]), ("region", MISSING)])
def test_a_malformed_identity_is_refused_with_the_full_parse_reason(field, value):
    body = orjson.loads(page([sg("sg-1")], T0).to_bytes())
    if value is MISSING:
        del body["resources"][0][field]
    else:
        body["resources"][0][field] = value
    data, key = orjson.dumps(body), body["shard"].encode()
    assert read_page(data) is None
    with pytest.raises(SchemaError) as full:
        parse_observation_message(key, data, OBSERVATION)
    with pytest.raises(SchemaError) as lazy:
        read_observation_message(key, data, OBSERVATION)
    assert str(lazy.value) == str(full.value) and f"resources.0.{field}" in str(lazy.value)


def test_the_worker_reads_a_page_lazily_and_everything_else_as_before():
    obs = page([sg("sg-1"), sg("sg-4", tags={"team": "é"})], T0)
    read = read_observation_message(obs.shard.encode(), obs.to_bytes(), OBSERVATION)
    assert isinstance(read, RawPage) and read.event_id == obs.event_id and read.shard == obs.shard
    assert [validate_resource(raw) for raw in read.resources] == obs.resources
    assert read.validated() == obs
    with pytest.raises(SchemaError, match="does not match the shard"):
        read_observation_message(b"other/shard", obs.to_bytes(), OBSERVATION)
