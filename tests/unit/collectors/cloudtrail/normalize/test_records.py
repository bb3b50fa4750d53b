"""Raw records, EventBridge envelopes, log files and LookupEvents answers -> TrailEvents."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
from collectors.cloudtrail.normalize.records import (
    events_in,
    located_records,
    parse_document,
    records_in,
    trail_events,
)
from collectors.cloudtrail.normalize.resources import shard_for
from elava.events import TouchedResource, TrailEvent
from elava.sharding import shard_of
from tests.unit.collectors.cloudtrail.normalize.trail_fixtures import ACCOUNT, RECORDS, family_records, load

A, EU = ACCOUNT, "eu-west-1"
GROUP = f"arn:aws:ec2:{EU}:{A}:security-group/sg-0123456789abcdef0"
INGRESS = family_records("security-groups")[1]


def test_a_raw_record_gives_one_event_per_touched_resource():
    run = family_records("ec2-instances")[0]
    events = trail_events(run)
    assert [e.resource.id for e in events] == ["i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002"]
    first = events[0]
    assert (first.trail_event_id, first.event_name, first.event_source) == (run["eventID"], "RunInstances",
                                                                            "ec2.amazonaws.com")
    assert (first.account, first.region, first.read_only, first.error_code) == (A, EU, False, None)
    assert first.event_time == datetime(2026, 11, 2, 10, 4, 31, tzinfo=UTC)
    assert (first.actor.name, first.actor.via) == ("alice@example.com", "terraform")


def test_event_ids_are_deterministic_and_differ_per_resource():
    run = family_records("ec2-instances")[0]
    once, again = trail_events(run), trail_events(json.loads(json.dumps(run)))
    assert [e.event_id for e in once] == [e.event_id for e in again]
    assert len({e.event_id for e in once}) == 2
    assert TrailEvent.from_bytes(once[0].to_bytes()) == once[0]


def test_an_eventbridge_envelope_gives_the_same_events_as_its_record():
    envelope = load("shapes/eventbridge-envelope.json")
    [event] = events_in(envelope)
    assert event.resource.uid == GROUP
    assert event.event_id == trail_events(INGRESS)[0].event_id


def test_an_envelope_lends_its_account_and_region_to_a_bare_detail():
    envelope = load("shapes/eventbridge-envelope.json")
    for key in ("recipientAccountId", "awsRegion"):
        del envelope["detail"][key]
    [record] = records_in(envelope)
    assert (record["recipientAccountId"], record["awsRegion"]) == (A, EU)


def test_a_log_file_gives_every_records_events():
    document = load("families/security-groups.json")
    assert [e.resource.uid for e in events_in(document)] == [GROUP] * 7


def test_a_lookup_events_answer_holds_records_as_text():
    assert [e.event_name for e in events_in(load("shapes/lookup-events.json"))] == ["RunInstances"] * 2 + ["StopInstances"]


def test_gzipped_log_files_and_json_lines_are_read():
    names = ["CreateImage", "ModifyImageAttribute", "DeregisterImage"]
    gzipped = gzip.compress((RECORDS / "families/amis.json").read_bytes())
    assert [r["eventName"] for r in records_in(parse_document(gzipped))] == names
    lines = b"\n".join(json.dumps(r).encode() for r in family_records("amis")) + b"\n"
    assert [r["eventName"] for r in records_in(parse_document(lines))] == names


@pytest.mark.parametrize("document", [{"hello": "world"}, "text", 42, {"detail-type": "EC2 Instance State-change"}])
def test_what_is_no_cloudtrail_is_refused_clearly(document):
    with pytest.raises(UnreadableTrail):
        list(records_in(document))


def test_unparseable_text_and_times_are_refused_clearly():
    with pytest.raises(UnreadableTrail):
        parse_document(b"{not json\n")
    with pytest.raises(UnreadableTrail, match="eventTime"):
        trail_events({**INGRESS, "eventTime": "yesterday"})


def test_failed_and_read_only_calls_give_no_events_unless_asked_for_an_audit():
    failed, _, describe, list_buckets = load("unchanged.json")["Records"]
    assert events_in(load("unchanged.json")) == []
    [audit] = trail_events(failed, include_unchanged=True)
    assert (audit.resource.uid, audit.error_code, audit.read_only) == (GROUP, "Client.UnauthorizedOperation", False)
    assert trail_events(describe, include_unchanged=True) == []  # reads target nothing mapped
    assert trail_events(list_buckets, include_unchanged=True) == []


def test_a_resolver_names_what_a_record_can_only_guess():
    exact = (f"arn:aws:autoscaling:{EU}:{A}:autoScalingGroup:6d9f2f8e-3a1b-4c5d-8e7f-0a1b2c3d4e5f"
             ":autoScalingGroupName/web-asg")
    asked = []

    def resolve(guess: TouchedResource) -> TouchedResource | None:
        asked.append(guess.type)
        return TouchedResource(uid=exact, type=guess.type, id=exact) if guess.type == "autoscaling.group" else None

    [event] = trail_events(family_records("autoscaling-groups")[1], resolve=resolve)
    assert event.resource.uid == exact
    [role] = trail_events(family_records("iam-roles")[2], resolve=resolve)  # not known: kept as guessed
    assert role.resource.uid == f"arn:aws:iam::{A}:role/deploy-role"
    trail_events(INGRESS, resolve=resolve)  # exact types are never asked about
    assert asked == ["autoscaling.group", "iam.role"]


def test_a_record_without_an_event_id_still_gets_a_stable_one():
    record = {k: v for k, v in INGRESS.items() if k != "eventID"}
    assert trail_events(record)[0].trail_event_id == trail_events(dict(record))[0].trail_event_id != ""


def test_shards_meet_the_collectors():
    [ingress] = trail_events(INGRESS)
    assert shard_for(ingress.resource, ingress.account, ingress.region, 16) == shard_of(
        GROUP, A, EU, "ec2.security-group", 16)
    [bucket] = trail_events(family_records("s3-buckets")[1])
    assert shard_for(bucket.resource, bucket.account, bucket.region, 16) == shard_of(
        "arn:aws:s3:::acme-logs", A, "global", "s3.bucket", 16)
    [role] = trail_events(family_records("iam-roles")[2])
    assert shard_for(role.resource, role.account, role.region, 8).startswith(f"{A}/global/iam.role/")
    assert (role.account, role.region) == (A, "us-east-1")


def test_a_resource_of_another_account_is_sharded_with_its_owners_observations():
    other = TouchedResource(uid="arn:aws:dynamodb:eu-central-1:444455556666:table/shared", type="dynamodb.table",
                            id="shared")
    assert shard_for(other, A, EU, 4).startswith("444455556666/eu-central-1/dynamodb.table/")
    record = {"eventSource": "dynamodb.amazonaws.com", "eventName": "TagResource", "eventTime": "2026-11-02T10:00:00Z",
              "eventID": "x", "requestParameters": {"resourceArn": other.uid}, "recipientAccountId": A,
              "awsRegion": EU}
    [event] = trail_events(record)
    assert (event.account, event.region) == ("444455556666", "eu-central-1")


@pytest.mark.parametrize("module", ["collectors.cloudtrail.normalize.records", "collectors.cloudtrail.normalize.resources",
                                    "collectors.cloudtrail.normalize.identity"])
def test_the_normaliser_imports_no_connector_no_streams_and_no_collector_source(module):
    own = ("collectors", "collectors.cloudtrail", "collectors.cloudtrail.normalize")
    code = (f"import sys, {module}; print(','.join(m for m in sys.modules if m.split('.')[0] in "
            "('faust', 'aiokafka', 'boto3', 'botocore', 'aioboto3', 'aiobotocore', 'streams') or "
            f"(m.startswith('collectors') and m not in {own!r} and not m.startswith('{own[-1]}.'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_located_records_name_each_bad_line_and_keep_the_good_ones():
    good = [json.dumps(r).encode() for r in family_records("amis")]
    data = b"\n".join([good[0], b"{not json", b"", good[1], json.dumps({"hello": 1}).encode(), good[2]]) + b"\n"
    found = located_records(data)
    assert [(f.where, f.record["eventName"] if f.record else None) for f in found] == [
        ("line 1", "CreateImage"), ("line 2", None), ("line 4", "ModifyImageAttribute"), ("line 5", None),
        ("line 6", "DeregisterImage")]
    assert found[1].problem.startswith("not JSON") and "not a CloudTrail record" in found[3].problem


def test_located_records_in_a_log_file_and_a_lookup_answer_are_named_by_their_jq_path():
    log = {"Records": [INGRESS, {"eventName": "x"}, INGRESS]}
    found = located_records(gzip.compress(json.dumps(log).encode()))
    assert [(f.where, f.problem is None) for f in found] == [
        (".Records[0]", True), (".Records[1]", False), (".Records[2]", True)]
    answer = {"Events": [{"CloudTrailEvent": json.dumps(INGRESS)}, {"CloudTrailEvent": "{oops"}]}
    found = located_records(json.dumps(answer).encode())
    assert [(f.where, f.problem is None) for f in found] == [
        (".Events[0].CloudTrailEvent", True), (".Events[1].CloudTrailEvent", False)]


def test_a_broken_json_document_is_one_problem_not_one_per_line():
    (found,) = located_records(b'{\n  "Records": [\n    {"eventName": \n')
    assert found.where == "the file" and found.problem.startswith("neither JSON nor JSON Lines")
