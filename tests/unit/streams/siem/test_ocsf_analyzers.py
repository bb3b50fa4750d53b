"""Out-of-band drift and lifecycle patterns as OCSF findings, valid against the shipped schema."""

from __future__ import annotations

import pytest

from elava import examples
from elava.analyzer_events import PatternEvent
from streams.siem.ocsf import ocsf_events_for
from streams.siem.validate import validate


def one(event) -> dict:
    [ocsf] = ocsf_events_for(event)
    assert validate(ocsf) == [], ocsf
    return ocsf


def test_out_of_band_drift_is_one_finding_of_both_kinds_naming_its_owner():
    drift = examples.drift().model_copy(update={"out_of_band": True, "owner": "terraform", "severity": "high",
                                               "rules": ["out-of-band", "world-open"], "actor": None})
    ocsf = one(drift)
    info = ocsf["finding_info"]
    assert info["types"] == ["Configuration Drift", "Out-of-band Change"]
    assert info["analytic"]["name"] == "out-of-band-drift" and "owned by terraform" in info["title"]
    assert info["uid"] == drift.change_id and ocsf["severity"] == "High"


def test_plain_drift_stays_a_configuration_drift_finding():
    assert one(examples.drift())["finding_info"]["types"] == ["Configuration Drift"]


@pytest.mark.parametrize("pattern", ["recreated", "short-lived", "flapping", "schedule", "burst"])
def test_every_pattern_is_an_informational_detection_with_its_versions_as_evidence(pattern):
    event = examples.pattern().model_copy(update={"pattern": pattern})
    ocsf = one(event)
    assert ocsf["class_uid"] == 2004 and ocsf["severity"] == "Informational"
    assert ocsf["finding_info"]["types"] == ["Lifecycle Pattern"] and ocsf["finding_info"]["analytic"]["name"] == pattern
    assert [e["data"]["version"] for e in ocsf["evidences"]] == [3, 4]
    assert ocsf["metadata"]["uid"] == event.event_id and ocsf["metadata"]["log_name"] == "patterns"
    assert isinstance(event, PatternEvent)
