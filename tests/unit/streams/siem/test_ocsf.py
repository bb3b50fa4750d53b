"""Every Elava event the SIEM adapter maps becomes an OCSF event valid against the shipped schema."""

from __future__ import annotations

import typing
from datetime import UTC, datetime

import pytest

from elava import examples
from elava.analyzer_events import DriftEvent
from elava.events import ActionResult, Actor, PolicyDecision
from streams.siem.objects import epoch_ms
from streams.siem.ocsf import is_out_of_band, ocsf_events_for
from streams.siem.validate import validate


def literal_values(model, field: str) -> tuple[str, ...]:
    """The values a model's Literal field allows today (others may add some: they are all tested)."""
    annotation = model.model_fields[field].annotation
    args = typing.get_args(annotation)
    return tuple(a for arg in args for a in (typing.get_args(arg) or (arg,)) if isinstance(a, str))


def one(event, **kwargs) -> dict:
    [ocsf] = ocsf_events_for(event, **kwargs)
    assert validate(ocsf) == [], ocsf
    return ocsf


def test_drift_is_a_detection_finding_with_the_attributed_actor_and_the_cloud_profile():
    drift = examples.drift()
    ocsf = one(drift)

    assert (ocsf["class_uid"], ocsf["activity_id"], ocsf["type_uid"]) == (2004, 1, 200401)
    assert (ocsf["severity_id"], ocsf["severity"]) == (5, "Critical")
    assert ocsf["finding_info"]["uid"] == drift.change_id  # a re-attributed drift is the same finding
    assert ocsf["finding_info"]["types"] == ["Configuration Drift"]
    assert ocsf["metadata"]["uid"] == drift.event_id and ocsf["metadata"]["profiles"] == ["cloud"]
    assert ocsf["cloud"] == {"provider": "AWS", "region": "us-east-1",
                             "account": {"uid": "123456789012", "type_id": 10, "type": "AWS Account"}}
    assert ocsf["resources"][0]["uid"] == examples.SG_UID
    [evidence] = ocsf["evidences"]
    assert evidence["actor"]["user"] == {"name": "alice", "uid": examples.ALICE.arn, "type_id": 1, "type": "User"}
    assert evidence["actor"]["session"] == {"issuer": "Admin"} and evidence["actor"]["app_name"] == "console"
    assert evidence["src_endpoint"] == {"ip": "203.0.113.7"}
    assert evidence["data"]["diff"][0]["new"]["from_port"] == 22
    assert ocsf["confidence_score"] == 90


def test_drift_without_an_actor_still_carries_its_diff_as_evidence():
    drift = examples.drift().model_copy(update={"actor": None, "confidence": None})
    ocsf = one(drift)
    assert set(ocsf["evidences"][0]) == {"data"} and "confidence_score" not in ocsf


@pytest.mark.parametrize("severity", literal_values(DriftEvent, "severity") + ("catastrophic",))
def test_every_drift_severity_maps_and_an_unknown_one_is_other(severity):
    ocsf = one(DriftEvent.model_construct(**{**examples.drift().__dict__, "severity": severity}))
    expected = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}.get(severity, 99)
    assert ocsf["severity_id"] == expected
    if expected == 99:
        assert ocsf["severity"] == severity


def test_times_are_epoch_milliseconds():
    assert epoch_ms(datetime(2026, 11, 28, 10, 36, 31, 123456, tzinfo=UTC)) == 1795862191123
    ocsf = one(examples.drift())
    assert ocsf["time"] == 1795862191000 == ocsf["finding_info"]["created_time"]


def test_a_cloudtrail_backed_console_change_is_out_of_band_with_its_evidence():
    attributed = examples.attributed_change()
    ocsf = one(attributed)

    assert (ocsf["class_uid"], ocsf["type_uid"]) == (2004, 200401)
    assert ocsf["finding_info"]["types"] == ["Out-of-band Change"]
    assert ocsf["finding_info"]["uid"] == attributed.change.event_id
    assert [e["uid"] for e in ocsf["evidences"]] == attributed.evidence
    assert ocsf["evidences"][0]["actor"]["user"]["uid"] == examples.ALICE.arn
    assert ocsf["resources"][0] == {"uid": examples.SG_UID, "provider": "AWS", "type": "ec2.security-group",
                                    "name": "web", "uid_alt": examples.SG_ID, "region": "us-east-1"}


@pytest.mark.parametrize(("actor", "provisional", "confidence", "out_of_band"), [
    (Actor(name="alice", kind="human", via="console"), False, 0.9, True),
    (Actor(name="deploy", kind="automation", via="sdk"), False, 0.8, True),  # a script, not IaC
    (Actor(name="ci", kind="automation", via="terraform"), False, 0.9, False),
    (Actor(name="stack", kind="automation", via="cloudformation"), False, 0.9, False),
    (Actor(name="autoscaling.amazonaws.com", kind="service", via="autoscaling"), False, 0.9, False),
    (Actor(name="alice", kind="unknown", via="tag"), True, 0.35, False),  # a tag guess is no evidence
    (Actor(), False, 0.0, False),  # nobody known
])
def test_out_of_band_means_cloudtrail_names_someone_outside_iac(actor, provisional, confidence, out_of_band):
    attributed = examples.attributed_change().model_copy(
        update={"actor": actor, "provisional": provisional, "confidence": confidence})
    assert is_out_of_band(attributed) is out_of_band
    events = ocsf_events_for(attributed)
    assert len(events) == (1 if out_of_band else 0)
    assert all(validate(e) == [] for e in events)


@pytest.mark.parametrize("kind", literal_values(Actor, "kind"))
def test_every_actor_kind_gives_a_valid_user_type(kind):
    attributed = examples.attributed_change().model_copy(
        update={"actor": examples.ALICE.model_copy(update={"kind": kind})})
    for ocsf in ocsf_events_for(attributed) + ocsf_events_for(examples.trail_event().model_copy(
            update={"actor": examples.ALICE.model_copy(update={"kind": kind})})):
        assert validate(ocsf) == []


def test_the_cloudtrail_evidence_is_api_activity():
    trail = examples.trail_event()
    ocsf = one(trail)

    assert (ocsf["class_uid"], ocsf["activity_id"], ocsf["type_uid"]) == (6003, 3, 600303)
    assert ocsf["api"] == {"operation": "AuthorizeSecurityGroupIngress", "service": {"name": "ec2.amazonaws.com"},
                           "request": {"uid": trail.trail_event_id}}
    assert ocsf["actor"]["user"]["name"] == "alice" and ocsf["src_endpoint"] == {"ip": "203.0.113.7"}
    assert ocsf["status_id"] == 1 and ocsf["metadata"]["original_event_uid"] == trail.trail_event_id


@pytest.mark.parametrize(("name", "read_only", "error", "activity", "status"), [
    ("RunInstances", False, None, 1, 1), ("DeleteBucket", False, None, 4, 1), ("TerminateInstances", False, None, 4, 1),
    ("DescribeInstances", True, None, 2, 1), ("CreateTags", False, "AccessDenied", 1, 2),
    ("ModifyDBInstance", False, None, 3, 1),
])
def test_api_activity_follows_the_operation_verb_and_the_outcome(name, read_only, error, activity, status):
    trail = examples.trail_event().model_copy(update={"event_name": name, "read_only": read_only, "error_code": error})
    ocsf = one(trail)
    assert (ocsf["activity_id"], ocsf["type_uid"], ocsf["status_id"]) == (activity, 600300 + activity, status)


def test_a_call_from_an_aws_service_names_the_service_as_its_source():
    trail = examples.trail_event().model_copy(update={"actor": Actor(
        type="AWSService", name="autoscaling.amazonaws.com", kind="service", source_ip="autoscaling.amazonaws.com")})
    assert one(trail)["src_endpoint"] == {"svc_name": "autoscaling.amazonaws.com"}


@pytest.mark.parametrize("decision", literal_values(PolicyDecision, "decision") + ("error", "abstain"))
def test_every_policy_decision_is_a_compliance_finding(decision):
    event = PolicyDecision.model_construct(**{**examples.policy_decision().__dict__, "decision": decision})
    ocsf = one(event, policy_severity={"open_admin_ports": "critical"})

    assert (ocsf["class_uid"], ocsf["type_uid"]) == (2003, 200301)
    expected = {"allow": 1, "deny": 3, "action": 3}.get(decision, 99)
    assert ocsf["compliance"]["status_id"] == expected
    assert ocsf["compliance"]["control"] == "open_admin_ports"
    if expected == 99:  # a decision added later (e.g. "error") keeps its word
        assert ocsf["compliance"]["status"] == decision
    assert ocsf["severity_id"] == (1 if decision == "allow" else 5)


def test_a_policy_decision_without_a_known_severity_is_unknown_and_s3_arns_have_no_account():
    decision = examples.policy_decision().model_copy(update={"uid": "arn:aws:s3:::logs"})
    ocsf = one(decision)
    assert ocsf["severity_id"] == 0
    assert ocsf["cloud"] == {"provider": "AWS"}


def test_waste_is_a_failed_hygiene_control():
    waste = examples.waste()
    ocsf = one(waste)
    assert (ocsf["class_uid"], ocsf["type_uid"], ocsf["severity_id"]) == (2003, 200301, 2)
    assert ocsf["compliance"]["control"] == "unattached-volume" and ocsf["compliance"]["status_id"] == 3
    assert ocsf["finding_info"]["first_seen_time"] == epoch_ms(waste.since)
    assert ocsf["unmapped"]["elava"]["units"]["gib"] == 100


@pytest.mark.parametrize(("status", "activity", "finding_status", "control"),
                         [("open", 1, 1, 3), ("updated", 2, 1, 3), ("resolved", 3, 4, 1)])
def test_a_waste_finding_is_created_updated_and_closed_as_its_status_goes(status, activity, finding_status, control):
    ocsf = one(examples.waste().model_copy(update={"status": status}))
    assert (ocsf["activity_id"], ocsf["type_uid"]) == (activity, 200300 + activity)
    assert (ocsf["status_id"], ocsf["compliance"]["status_id"]) == (finding_status, control)



@pytest.mark.parametrize("status", literal_values(ActionResult, "status") + ("rejected", "cancelled", "paused"))
@pytest.mark.parametrize("action", ["delete", "stop", "tag", "notify"])
def test_every_executor_result_is_api_activity_and_only_executed_is_success(status, action):
    result = ActionResult.model_construct(**{**examples.action_result().__dict__, "status": status, "action": action})
    ocsf = one(result)

    activity = {"delete": 4, "notify": 99}.get(action, 3)
    assert (ocsf["class_uid"], ocsf["activity_id"], ocsf["type_uid"]) == (6003, activity, 600300 + activity)
    assert ocsf["status_id"] == {"executed": 1, "failed": 2}.get(status, 99)
    assert ocsf["actor"] == {"app_name": "elava-executor"} and ocsf["api"]["request"]["uid"] == result.request_id
    assert ocsf["unmapped"]["elava"]["status"] == status


def test_an_executed_action_names_the_aws_identity_and_requests_behind_it():
    from elava.events import AwsCall

    result = examples.action_result().model_copy(update={
        "action": "stop", "status": "executed", "dry_run": False, "decision_id": "d-1",
        "principal": "arn:aws:sts::123456789012:assumed-role/ElavaExecutor/elava",
        "aws_calls": [AwsCall(operation="ec2:stop_instances", request_id="r-1")]})
    ocsf = one(result)
    assert ocsf["status_id"] == 1 and ocsf["actor"]["user"]["uid"].endswith("ElavaExecutor/elava")
    assert ocsf["unmapped"]["elava"]["aws_calls"] == [{"operation": "ec2:stop_instances", "request_id": "r-1"}]
    assert ocsf["unmapped"]["elava"]["decision_id"] == "d-1" and ocsf["unmapped"]["elava"]["dry_run"] is False


def test_events_a_siem_does_not_need_map_to_nothing():
    for example in (examples.observation, examples.scan_marker, examples.change, examples.action_request):
        assert ocsf_events_for(example()) == []


def test_a_replayed_event_gives_the_same_ocsf_event():
    assert ocsf_events_for(examples.drift()) == ocsf_events_for(examples.drift())
