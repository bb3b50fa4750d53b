from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elava.analyzer_events import DriftEvent, WasteFinding
from elava.events import (
    ActionRequest,
    ActionResult,
    Actor,
    AttributedChange,
    ChangeEvent,
    Contributor,
    FieldChange,
    Observation,
    PolicyDecision,
    Resource,
    ScanMarker,
    TouchedResource,
    TrailEvent,
    canonical_json,
    view_of,
)
from elava.exceptions import SchemaError

NOW = datetime(2026, 11, 28, tzinfo=UTC)
RES = Resource(uid="arn:aws:s3:::b", type="s3.bucket", id="b", account="1", region="us-east-1")
CHANGE = ChangeEvent(uid=RES.uid, type=RES.type, account="1", region="us-east-1", kind="created",
                     previous_version=None, new_version=1, observed_at=NOW, resource=RES, cause_id="p1")

EXAMPLES = [
    Observation(scan_id="s", account="1", region="global", type="s3.bucket", shard="1/global/s3.bucket/0",
                page=0, observed_at=NOW, resources=[RES]),
    ScanMarker(scan_id="s", account="1", region="global", type="s3.bucket", shard="1/global/s3.bucket/0",
               status="ok", count=1, ids=["b"], started_at=NOW, finished_at=NOW),
    TrailEvent(trail_event_id="e1", event_name="CreateBucket", event_source="s3.amazonaws.com", event_time=NOW,
               account="1", region="us-east-1", actor=Actor(type="IAMUser", name="alice", kind="human"),
               resource=TouchedResource(uid=RES.uid, type=RES.type, id="b")),
    CHANGE,
    AttributedChange(change=CHANGE, actor=Actor(name="alice", kind="human"), confidence=0.9, evidence=["e1"]),
    DriftEvent(change_id=CHANGE.event_id, uid=RES.uid, type=RES.type, account="1", region="us-east-1",
               severity="low", summary="x", diff=[], detected_at=NOW),
    WasteFinding(uid=RES.uid, type=RES.type, account="1", region="us-east-1", pattern="orphaned",
                 reason="no owner tag", detected_at=NOW),
    PolicyDecision(uid=RES.uid, policy="tagging", decision="deny", cause_id=CHANGE.event_id, decided_at=NOW),
    ActionRequest(uid=RES.uid, type=RES.type, account=RES.account, region=RES.region, action="tag",
                  policy="tagging", reason="orphan", decision_id="d1", resource_version=1, requested_at=NOW),
    ActionResult(request_id="r1", uid=RES.uid, action="tag", status="dry_run", finished_at=NOW),
]


ODD = Resource(uid="arn:aws:ec2:eu-west-1:1:instance/i-1", type="ec2.instance", id="i-1", account="1",
               region="eu-west-1", name="Zürich ☃ \u2028", tags={"Ünicode": "\"quoted\"\n"},
               attributes={"ratio": 0.1, "big": 2**62, "tiny": 1e-300, "nested": [{"x": None, "y": True}],
                           "nan": float("nan"), "inf": float("inf")})


@pytest.mark.parametrize("event", [*EXAMPLES, CHANGE.model_copy(update={"resource": ODD})],
                         ids=lambda e: type(e).__name__)
def test_bytes_are_what_orjson_makes_of_the_json_dump(event):
    # Consumers and stored copies saw orjson's bytes before: the cheaper serializer must not change them.
    assert event.to_bytes() == orjson.dumps(event.model_dump(mode="json"))


@pytest.mark.parametrize("change", [CHANGE, CHANGE.model_copy(update={"resource": ODD}),
                                    CHANGE.model_copy(update={"resource": None})], ids=["plain", "odd", "none"])
def test_an_attributed_change_spliced_from_its_changes_bytes_is_the_same_bytes(change):
    attributed = AttributedChange(change=change, actor=Actor(name="alice", arn="arn:aws:iam::1:user/alice"),
                                  confidence=0.9, evidence=["e1"], actors=[])
    whole = orjson.dumps(attributed.model_dump(mode="json"))
    assert attributed.to_bytes() == whole
    assert attributed.to_bytes(change.to_bytes()) == whole
    assert AttributedChange.from_bytes(whole).to_bytes() == whole


WHEN = [NOW, datetime(2026, 11, 28, 9, 30, 1, 123456, tzinfo=UTC), datetime(2026, 11, 28, 9, 30, 1, 5, tzinfo=UTC),
        datetime(2026, 11, 28, 11, 0, tzinfo=timezone(timedelta(hours=2)))]
DIFFS = [[], [FieldChange(path="tags.team", op="replace", old="a", new="b")],
         [FieldChange(path="attributes.ingress", op="add", new={"cidr": "0.0.0.0/0", "from_port": 22, "ratio": 0.5}),
          FieldChange(path="attributes.gone", op="remove", old=[1, None, True, 1e-300, "Zürich"])]]
BIG = RES.model_copy(update={"attributes": {"big": 2**70}})


@pytest.mark.parametrize("resource", [RES, ODD, BIG], ids=["plain", "odd", "beyond-64-bits"])
@pytest.mark.parametrize("when", WHEN, ids=["whole-second", "micros", "few-micros", "offset"])
@pytest.mark.parametrize("diff", DIFFS, ids=["no-diff", "tag", "rules"])
def test_a_change_written_from_its_stored_form_is_the_same_bytes(resource, when, diff):
    # The worker writes a change's bytes from what its version stores: the same bytes as pydantic's.
    change = CHANGE.model_copy(update={"resource": resource, "observed_at": when, "diff": diff})
    stored = (resource.model_dump(mode="json"), [c.model_dump(mode="json") for c in diff])
    assert change.to_bytes(*stored) == change.to_bytes()


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_contract_round_trips_through_json(event):
    data = event.to_bytes()
    assert orjson.loads(data)["schema_version"] == 1
    assert type(event).from_bytes(data) == event


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_event_id_is_deterministic(event):
    rebuilt = type(event).model_validate(event.model_dump(exclude={"event_id"}))
    assert rebuilt.event_id == event.event_id != ""


def test_event_id_depends_on_causes():
    other = CHANGE.model_copy(update={"cause_id": "p2", "event_id": ""})
    rebuilt = ChangeEvent.model_validate(other.model_dump(exclude={"event_id"}))
    assert rebuilt.event_id != CHANGE.event_id


@pytest.mark.parametrize("data, reason", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"schema_version": 99}', "unsupported schema_version"),
    (b'{"schema_version": 1, "uid": 5}', "invalid ChangeEvent"),
])
def test_bad_bytes_raise_schema_error_with_reason(data, reason):
    with pytest.raises(SchemaError, match=reason):
        ChangeEvent.from_bytes(data)


def test_a_complete_event_of_another_schema_version_is_refused():
    # Valid in every field but its version: the fast parse must not let it through.
    data = orjson.dumps({**orjson.loads(CHANGE.to_bytes()), "schema_version": 2})
    with pytest.raises(SchemaError, match="unsupported schema_version 2"):
        ChangeEvent.from_bytes(data)


def test_a_view_reads_its_fields_as_the_contract_declares_them_and_skips_the_rest():
    from pydantic import ValidationError

    view = view_of(Contributor, ["share", "confidence"])
    read = view.model_validate_json(b'{"actor": "not an actor", "share": 0.5, "confidence": 1}')
    assert (read.share, read.confidence) == (0.5, 1.0)  # the actor, not read, is not validated
    with pytest.raises(ValidationError):
        view.model_validate_json(b'{"share": 1.5, "confidence": 1}')  # the contract's bound (le=1) holds
    assert view_of(Contributor, ["evidence"]).model_validate_json(b"{}").evidence == []  # and its default


_JSON_LEAF = st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**64 - 1) | st.floats(
    allow_nan=False) | st.text(max_size=8)
_KEY = st.text(max_size=5) | st.integers(-5, 5) | st.booleans()


@settings(max_examples=400)
@given(st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEY, inner, max_size=5),
                    max_leaves=30))
def test_canonical_json_is_orjsons_sorted_dump_with_keys_of_any_type(value):
    # The fast path (string keys only) must give the bytes of the full option set, always.
    assert canonical_json(value) == orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def test_canonical_json_writes_keys_of_str_subclasses_as_their_text():
    class Named(str):
        pass

    assert canonical_json({Named("b"): 1, "a": {Named("c"): None}}) == b'{"a":{"c":null},"b":1}'


def test_canonical_json_refuses_what_orjson_cannot_write():
    with pytest.raises(TypeError):
        canonical_json({"a": object()})


_TEXT = st.text(max_size=12)  # any unicode, control characters and quotes included
_SHARE = st.floats(min_value=0.0, max_value=1.0)
_ACTOR = st.builds(Actor, type=_TEXT, arn=st.none() | _TEXT, name=st.none() | _TEXT, role=st.none() | _TEXT,
                   kind=st.sampled_from(["human", "service", "automation", "unknown"]),
                   via=st.none() | _TEXT, source_ip=st.none() | _TEXT, user_agent=st.none() | _TEXT)
_CONTRIBUTOR = st.builds(Contributor, actor=_ACTOR, share=_SHARE, confidence=_SHARE, evidence=st.lists(_TEXT, max_size=3))


@settings(max_examples=300)
@given(actor=_ACTOR, confidence=_SHARE, evidence=st.lists(_TEXT, max_size=3), provisional=st.booleans(),
       actors=st.lists(_CONTRIBUTOR, max_size=3))
def test_an_attributed_change_is_written_as_pydantic_writes_it(actor, confidence, evidence, provisional, actors):
    # Its fields besides the change are written by orjson (AttributedChange._bytes_without_change).
    attributed = AttributedChange(change=CHANGE, actor=actor, confidence=confidence, evidence=evidence,
                                  provisional=provisional, actors=actors)
    assert attributed.to_bytes() == attributed.model_dump_json().encode()
    assert attributed.to_bytes(CHANGE.to_bytes()) == attributed.model_dump_json().encode()


def test_an_attributed_change_that_cannot_be_written_fails_as_pydantic_fails():
    from pydantic_core import PydanticSerializationError

    attributed = AttributedChange(change=CHANGE, actor=Actor(name="\ud800"), confidence=1.0)  # a lone surrogate
    with pytest.raises(PydanticSerializationError):
        attributed.to_bytes(CHANGE.to_bytes())
