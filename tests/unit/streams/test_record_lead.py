"""The head's leading fields, read without decoding the record, agree with the full decode."""

from dataclasses import replace

import orjson

from streams.store.records import RecordLead, Version

CREATED = Version(uid="arn:aws:ec2:eu-west-1:1:security-group/sg-1", version=3, kind="created",
                  valid_from=1_790_000_000_000_000, hash="09230ed9677e66bd", cause="585a7142caa56afb",
                  shard="1/eu-west-1/ec2.security-group/0", resource={"id": "sg-1", "tags": {"a": "b"}},
                  attribution={"actor": {"arn": "arn:aws:iam::1:user/alice"}})


def lead_fields(lead: RecordLead) -> tuple:
    return lead.version, lead.kind, lead.valid_from, lead.hash, lead.cause, lead.deleted


def version_fields(version: Version) -> tuple:
    return version.version, version.kind, version.valid_from, version.hash, version.cause, version.deleted


def test_lead_matches_the_decoded_version_for_every_kind():
    tombstone = replace(CREATED, kind="deleted", hash="", resource=None, version=4)
    for version in (CREATED, replace(CREATED, kind="modified", diff=[{"path": "x"}]), tombstone):
        lead = RecordLead.from_bytes(version.uid, version.to_bytes())
        assert lead_fields(lead) == version_fields(version)
        assert lead.full() == version


def test_records_in_another_shape_are_decoded_in_full():
    odd_cause = replace(CREATED, cause="not-a-hex-id")  # ids from elsewhere may hold any character
    record = orjson.loads(CREATED.to_bytes())
    reordered = orjson.dumps({"kind": record.pop("kind"), **record})
    for data, expected in ((odd_cause.to_bytes(), odd_cause), (reordered, CREATED)):
        lead = RecordLead.from_bytes(CREATED.uid, data)
        assert lead_fields(lead) == version_fields(expected)


def test_resource_id_is_read_from_a_collector_shaped_record():
    resource = {"uid": CREATED.uid, "type": "ec2.security-group", "id": "sg-1", "name": None, "tags": {}}
    lead = RecordLead.from_bytes(CREATED.uid, replace(CREATED, resource=resource).to_bytes())
    assert lead.resource_id() == "sg-1"


def test_resource_id_falls_back_to_decoding_when_the_id_is_escaped_or_fields_are_reordered():
    quoted = {"uid": CREATED.uid, "type": "t", "id": 'odd"id\\x', "name": None}
    assert RecordLead.from_bytes(CREATED.uid, replace(CREATED, resource=quoted).to_bytes()).resource_id() == 'odd"id\\x'
    # CREATED's resource has no uid/type before its id: the fast path does not match.
    assert RecordLead.from_bytes(CREATED.uid, CREATED.to_bytes()).resource_id() == "sg-1"


def test_a_tombstone_has_no_resource_id():
    tombstone = replace(CREATED, kind="deleted", hash="", resource=None, version=4)
    assert RecordLead.from_bytes(tombstone.uid, tombstone.to_bytes()).resource_id() is None
