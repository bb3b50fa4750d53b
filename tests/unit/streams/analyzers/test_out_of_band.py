"""Out-of-band drift: an IaC-owned resource changed by anyone not shown to be that IaC.

Tags say who owns a resource, never who changed it: the Terraform-tagged security group
opened to the world by hand is high (here critical) out-of-band drift whose actor is
unknown or the real one — never Terraform.
"""

from datetime import timedelta

import pytest

from elava.settings import AnalyzerSettings, DriftSettings
from streams.analyzers.drift import DriftAnalyzer, drift_for
from streams.analyzers.reports import drift_of_version
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.analyzers.drift_cases import (
    ALICE,
    AUTOSCALING,
    SSH_WORLD,
    TERRAFORM_RUNNER,
    by,
    fc,
    modified,
)
from tests.unit.streams.fixtures import T0, page, sg

TERRAFORM = {"ManagedBy": "terraform", "Name": "web"}
OFFICE = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "10.0.0.0/8"}


def opened(tags=TERRAFORM, rule=SSH_WORLD):
    return modified("ec2.security-group", fc("attributes.ingress", "add", new=rule), tags=tags)


def test_a_terraform_security_group_opened_by_hand_without_a_trail_record_is_out_of_band_with_no_actor():
    """The whole path: collector pages through the partition processor, no CloudTrail yet."""
    processor = PartitionProcessor(VersionStore(MemoryKV()))
    processor.process(page([sg("sg-1", TERRAFORM)], T0, scan="s1"))
    produced = processor.process(page([sg("sg-1", TERRAFORM, ingress=[SSH_WORLD])], T0 + timedelta(minutes=5),
                                      scan="s2"))
    [drift], [attributed] = produced.drift, produced.attributed
    assert (drift.out_of_band, drift.owner, drift.severity) == (True, "terraform", "critical")
    assert "out-of-band" in drift.rules
    assert drift.actor is None and drift.confidence is None
    assert attributed.actor.name is None and attributed.confidence == 0  # never "terraform (automation) 0.40"


def test_the_real_actor_from_cloudtrail_is_named_and_it_is_still_out_of_band():
    drift = drift_for(opened(rule=OFFICE), by(opened(rule=OFFICE), ALICE))
    assert (drift.out_of_band, drift.actor.name, drift.severity) == (True, "alice", "high")  # low rule, raised


def test_a_change_cloudtrail_shows_made_through_the_owning_tool_is_in_band():
    change = opened(rule=OFFICE)
    drift = drift_for(change, by(change, TERRAFORM_RUNNER))
    assert (drift.out_of_band, drift.severity, drift.rules) == (False, "low", ["changed"])


@pytest.mark.parametrize(("tags", "actor", "out_of_band"), [
    ({"aws:cloudformation:stack-name": "web"}, TERRAFORM_RUNNER, True),  # owned by a stack, changed by terraform
    ({"aws:cloudformation:stack-name": "web"}, TERRAFORM_RUNNER.model_copy(update={"via": "cdk"}), False),
    ({"pulumi:project": "web"}, TERRAFORM_RUNNER.model_copy(update={"via": "pulumi"}), False),
    ({"ManagedBy": "terraform"}, TERRAFORM_RUNNER.model_copy(update={"via": "opentofu"}), False),
    ({"ManagedBy": "terraform"}, AUTOSCALING, False),  # AWS acting for a service
    ({"owner": "alice"}, ALICE, False),  # nobody's IaC: plain drift
])
def test_owner_tags_and_actors(tags, actor, out_of_band):
    change = opened(tags=tags, rule=OFFICE)
    assert drift_for(change, by(change, actor)).out_of_band is out_of_band


def test_a_guess_from_tags_is_not_evidence_that_the_owner_made_it():
    change = opened(rule=OFFICE)
    assert drift_for(change, by(change, TERRAFORM_RUNNER, confidence=0.4, provisional=True)).out_of_band


def test_a_configured_managed_by_tag_marks_ownership():
    change = opened(tags={"iac": "platform-stack"}, rule=OFFICE)
    analyzer = DriftAnalyzer(DriftSettings(managed_by_tags=["iac"]))
    drift = analyzer.drift_for(change, by(change, ALICE))
    assert (drift.out_of_band, drift.owner) == (True, "iac=platform-stack")
    assert analyzer.drift_for(change, by(change, TERRAFORM_RUNNER)).out_of_band is False  # some IaC tool made it
    assert drift_for(change, by(change, ALICE)).out_of_band is False  # not configured: not owned


def test_removing_the_ownership_tag_by_hand_is_out_of_band():
    change = modified("ec2.instance", fc("tags.ManagedBy", "remove", old="terraform"))
    drift = drift_for(change, by(change, ALICE))
    assert (drift.out_of_band, drift.owner) == (True, "terraform")


def test_aws_churn_on_an_owned_resource_is_no_drift_at_all():
    change = modified("autoscaling.group", fc("attributes.desired_capacity", old=2, new=6), tags=TERRAFORM)
    assert drift_for(change) is None


def test_without_attribution_drift_carries_no_actor_and_unknown_is_out_of_band():
    change = opened(rule=OFFICE)
    analyzer = DriftAnalyzer(DriftSettings(attribution=False))
    drift = analyzer.drift_for(change, by(change, TERRAFORM_RUNNER))
    assert (drift.actor, drift.out_of_band) == (None, True)


def test_a_late_trail_record_re_reports_the_drift_with_the_real_actor():
    from elava.events import TouchedResource, TrailEvent

    processor = PartitionProcessor(store := VersionStore(MemoryKV()), AnalyzerSettings().drift)
    group = sg("sg-1", TERRAFORM)
    processor.process(page([group], T0, scan="s1"))
    first = processor.process(page([sg("sg-1", TERRAFORM, ingress=[SSH_WORLD])], T0 + timedelta(minutes=5), scan="s2"))
    trail = TrailEvent(trail_event_id="ct-9", event_name="AuthorizeSecurityGroupIngress",
                       event_source="ec2.amazonaws.com", event_time=T0 + timedelta(minutes=3), account=group.account,
                       region=group.region, actor=ALICE,
                       resource=TouchedResource(uid=group.uid, type=group.type, id=group.id))
    later = processor.process(trail)
    [before], [after] = first.drift, later.drift
    assert before.change_id == after.change_id and before.event_id != after.event_id
    assert (after.actor.name, after.out_of_band) == ("alice", True)
    derived = drift_of_version(DriftAnalyzer(AnalyzerSettings().drift), store.get_version(group.uid, 2))
    assert derived == after  # a query derives the latest word, for `elava drift` and history
