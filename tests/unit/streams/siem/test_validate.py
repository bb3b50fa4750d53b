"""The validator fails broken OCSF events, each for its own reason (and passes the sound ones)."""

from __future__ import annotations

import copy
import json

import pytest

from elava import examples
from streams.siem.classes import (
    API_ACTIVITY,
    COMPLIANCE_FINDING,
    DETECTION_FINDING,
    EMITTED_CLASSES,
    OCSF_VERSION,
)
from streams.siem.ocsf import ocsf_events_for
from streams.siem.validate import SCHEMA_FILE, OcsfSchema, validate


def sound() -> dict[str, dict]:
    return {"drift": ocsf_events_for(examples.drift())[0], "trail": ocsf_events_for(examples.trail_event())[0],
            "decision": ocsf_events_for(examples.policy_decision())[0]}


def broken(name: str, change) -> list[str]:
    event = copy.deepcopy(sound()[name])
    change(event)
    return validate(event)


def test_the_examples_are_sound():
    assert {name: validate(event) for name, event in sound().items()} == {"drift": [], "trail": [], "decision": []}


@pytest.mark.parametrize(("name", "change", "expected"), [
    ("drift", lambda e: e.pop("finding_info"), "finding_info: required attribute missing"),
    ("drift", lambda e: e["finding_info"].pop("uid"), "finding_info.uid: required attribute missing"),
    ("drift", lambda e: e["metadata"].pop("product"), "metadata.product: required attribute missing"),
    ("trail", lambda e: e.pop("actor"), "actor: required attribute missing"),
    ("trail", lambda e: e["api"].pop("operation"), "api.operation: required attribute missing"),
    ("drift", lambda e: e.pop("cloud"), "cloud: required attribute missing"),  # the cloud profile is applied
    ("drift", lambda e: e.update(severity_id=7, severity="Fatal?"), "severity_id: 7 is not one of"),
    ("drift", lambda e: e.update(severity="Low"), "severity: 'Low' is not the caption of severity_id 5"),
    ("drift", lambda e: e.update(severity_id=99, severity=None), "severity: severity_id is Other (99)"),
    ("decision", lambda e: e["compliance"].update(status_id=4), "compliance.status_id: 4 is not one of"),
    ("drift", lambda e: e.update(type_uid=200402), "type_uid: 200402 is not class_uid * 100 + activity_id (200401)"),
    ("trail", lambda e: e.update(activity_id=4), "type_uid: 600303 is not class_uid * 100 + activity_id (600304)"),
    ("drift", lambda e: e.update(category_uid=6), "category_uid: 6, the class is in category 2"),
    ("drift", lambda e: e.update(class_uid=2999), "class_uid: 2999 is not a class of this schema"),
    ("drift", lambda e: e.update(time=e["time"] // 1000), "time: 1795862191 is not a time in epoch milliseconds"),
    ("drift", lambda e: e.update(time=e["time"] * 1000), "is not a time in epoch milliseconds"),
    ("drift", lambda e: e.update(time=str(e["time"])), "time: '1795862191000' is not a timestamp_t"),
    ("drift", lambda e: e["finding_info"].update(created_time=1.5), "finding_info.created_time: 1.5 is not a timestamp_t"),
    ("drift", lambda e: e.update(severity_id=True), "severity_id: True is not a integer_t"),
    ("drift", lambda e: e.update(elava_extra=1), "elava_extra: not an attribute here"),
    ("drift", lambda e: e["resources"].__setitem__(0, "sg-1"), "resources[0]: expected a resource_details object"),
    ("drift", lambda e: e.update(resources=e["resources"][0]), "resources: expected an array"),
    ("drift", lambda e: e["metadata"].update(profiles=[]), "cloud: belongs to profile 'cloud', not in metadata.profiles"),
    ("drift", lambda e: e["metadata"].update(profiles=["cloud", "ai_operation"]), "'ai_operation' is not a profile of"),
    ("drift", lambda e: e["metadata"].update(version="1.1.0"), "metadata.version: '1.1.0', expected '1.8.0'"),
    ("trail", lambda e: e.update(src_endpoint={"port": 443}), "src_endpoint: needs at least one of"),
    ("trail", lambda e: e["src_endpoint"].update(ip="not-an-ip"), "src_endpoint.ip: 'not-an-ip' does not match ip_t"),
    ("trail", lambda e: e["src_endpoint"].update(port=70000), "src_endpoint.port: 70000 outside [0, 65535]"),
    ("decision", lambda e: e["compliance"].update(status_detail="x"), "compliance.status_detail: deprecated"),
])
def test_a_broken_event_fails_for_its_reason(name, change, expected):
    errors = broken(name, change)
    assert any(expected in error for error in errors), errors


def test_a_required_profile_attribute_counts_only_when_its_profile_is_applied():
    event = copy.deepcopy(sound()["drift"])
    event.pop("cloud")
    for resource in event["resources"]:
        for cloud_attribute in ("provider", "region"):
            resource.pop(cloud_attribute)
    event["metadata"]["profiles"] = []
    assert validate(event) == []


def test_a_non_object_is_refused():
    assert validate([]) == ["an OCSF event is a JSON object, not list"]


def test_the_shipped_subset_holds_the_emitted_classes_as_the_mapping_knows_them():
    schema = OcsfSchema.load()
    assert schema.version == OCSF_VERSION
    assert sorted(schema.data["classes"]) == sorted(EMITTED_CLASSES)
    for cls in (DETECTION_FINDING, COMPLIANCE_FINDING, API_ACTIVITY):
        spec = schema.data["classes"][cls.name]
        assert (spec["uid"], spec["caption"], schema.data["categories"][spec["category"]]) == \
            (cls.uid, cls.caption, cls.category_uid)


def test_the_subset_keeps_what_the_class_itself_declares_over_ocsf_lib_merges():
    data = json.loads(SCHEMA_FILE.read_text())
    # API Activity declares actor core and required; the host profile also defines actor.
    assert data["classes"]["api_activity"]["attributes"]["actor"] == {
        "is_array": False, "object": "actor", "requirement": "required"}
    assert "ip" in data["objects"]["network_endpoint"]["constraints"]["at_least_one"]


def test_the_subset_ships_with_its_license_and_names_no_local_path():
    folder = SCHEMA_FILE.parent
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert "Open Cybersecurity Schema Framework" in (folder / "NOTICE").read_text()
    text = SCHEMA_FILE.read_text()
    assert "/home/" not in text and "/root/" not in text and "/tmp/" not in text
