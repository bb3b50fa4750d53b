from datetime import UTC, datetime, timedelta

import pytest

from elava.events import Actor, ChangeEvent, FieldChange, Resource, TouchedResource, TrailEvent
from streams.attribution.calibration import HEURISTIC_RULES, cloudtrail_confidence
from streams.attribution.scoring import Window, attribute, score

T = datetime(2026, 11, 28, 12, tzinfo=UTC)
UID = "arn:aws:ec2:us-east-1:111122223333:security-group/sg-1"
ROOT = Actor(type="Root", arn="arn:aws:iam::111122223333:root", name="root", kind="human", via="console")
AUTOSCALING = Actor(type="AWSService", name="autoscaling.amazonaws.com", kind="service", via="autoscaling")
ALICE = Actor(type="IAMUser", arn="arn:aws:iam::111122223333:user/alice", name="alice", kind="human")
BOB = Actor(type="IAMUser", arn="arn:aws:iam::111122223333:user/bob", name="bob", kind="human")
WINDOW = Window(start=T - timedelta(hours=1), end=T)
RULE = FieldChange(path="attributes.ingress", op="add", new={"protocol": "tcp", "from_port": 22, "cidr": "0.0.0.0/0"})


def change(kind="modified", diff=(RULE,), tags=None):
    resource = Resource(uid=UID, type="ec2.security-group", id="sg-1", account="111122223333", region="us-east-1",
                        tags=tags or {})
    return ChangeEvent(uid=UID, type=resource.type, account=resource.account, region=resource.region, kind=kind,
                       previous_version=1 if kind != "created" else None, new_version=2, observed_at=T,
                       diff=list(diff), resource=resource, cause_id="p")


def trail(name, actor=ALICE, at=T - timedelta(minutes=10), event_id="e1", uid=UID, **extra):
    return TrailEvent(trail_event_id=event_id, event_name=name, event_source="ec2.amazonaws.com", event_time=at,
                      account="111122223333", region="us-east-1", actor=actor,
                      resource=TouchedResource(uid=uid, type="ec2.security-group", id="sg-1"), **extra)


def test_consistent_event_in_window_is_certain():
    result = attribute(change(), [trail("AuthorizeSecurityGroupIngress")], WINDOW)
    assert (result.actor.name, result.evidence, result.method) == ("alice", ["e1"], "cloudtrail")
    assert result.confidence == cloudtrail_confidence(1.0) == 1.0  # the fit: never wrong in the suite


def test_generic_mutation_scores_lower_than_a_specific_one():
    assert score(change(), trail("ModifyInstanceAttribute"), WINDOW) < score(change(), trail("AuthorizeSecurityGroupIngress"), WINDOW)


def test_competing_actors_share_the_confidence():
    result = attribute(change(), [trail("AuthorizeSecurityGroupIngress"),
                                  trail("AuthorizeSecurityGroupIngress", actor=BOB, event_id="e2")], WINDOW)
    assert result.credits[0].score == 0.5 and result.confidence == cloudtrail_confidence(0.5)


def test_a_specific_event_beats_a_generic_competitor():
    # A new ingress rule is what AuthorizeSecurityGroupIngress makes; bob's calls only
    # touched the group's rules (Modify changes an existing rule, Update a description).
    generic = [trail("ModifySecurityGroupRules", actor=BOB, event_id="e2"),
               trail("UpdateSecurityGroupRuleDescriptionsIngress", actor=BOB, event_id="e3")]
    specific = trail("AuthorizeSecurityGroupIngress")
    for candidates in (generic + [specific], [specific, *generic]):  # not won by the order of arrival
        result = attribute(change(), candidates, WINDOW)
        assert (result.actor.name, result.evidence) == ("alice", ["e1"])
        assert 0.5 < result.credits[0].score < 0.9  # the competitor still costs score
        assert result.confidence == cloudtrail_confidence(result.credits[0].score)


DESCRIBED = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8", "description": "vpn"}


@pytest.mark.parametrize(("diff", "specific", "generic"), [
    ([RULE], "AuthorizeSecurityGroupIngress",
     ["RevokeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "ModifySecurityGroupRules"]),
    ([FieldChange(path="attributes.egress", op="remove", old=DESCRIBED)], "RevokeSecurityGroupEgress",
     ["RevokeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]),
    ([FieldChange(path="attributes.ingress", op="remove", old=DESCRIBED),
      FieldChange(path="attributes.ingress", op="add", new={**DESCRIBED, "from_port": 2222, "to_port": 2222})],
     "ModifySecurityGroupRules", ["UpdateSecurityGroupRuleDescriptionsIngress"]),
    ([FieldChange(path="attributes.ingress", op="remove", old=DESCRIBED),
      FieldChange(path="attributes.ingress", op="add", new={**DESCRIBED, "description": "office"})],
     "UpdateSecurityGroupRuleDescriptionsIngress", ["UpdateSecurityGroupRuleDescriptionsEgress"]),
])
def test_the_rule_call_whose_effect_the_diff_shows_is_the_specific_one(diff, specific, generic):
    best = score(change(diff=diff), trail(specific), WINDOW)
    assert best == pytest.approx(1.0)
    for name in generic:
        assert score(change(diff=diff), trail(name), WINDOW) == pytest.approx(0.8), name


def test_a_call_made_for_another_part_does_not_explain_this_one():
    tagged = FieldChange(path="tags.owner", op="remove", old="team")
    assert score(change(diff=[tagged]), trail("AuthorizeSecurityGroupIngress"), WINDOW) == 0.0  # no rule changed
    assert score(change(diff=[RULE]), trail("CreateTags"), WINDOW) == 0.0  # no tag changed
    assert score(change(diff=[tagged]), trail("CreateTags"), WINDOW) == pytest.approx(1.0)


def test_events_that_cannot_explain_the_change_are_ignored():
    ignored = [
        trail("AuthorizeSecurityGroupIngress", read_only=True),
        trail("AuthorizeSecurityGroupIngress", error_code="UnauthorizedOperation"),
        trail("AuthorizeSecurityGroupIngress", at=T - timedelta(days=2)),  # explains an older version
        trail("AuthorizeSecurityGroupIngress", uid=UID + "x"),
    ]
    assert attribute(change(), ignored, WINDOW).method == "none"
    assert score(change("created", ()), trail("DeleteSecurityGroup"), WINDOW) == 0.0


def test_a_call_stamped_just_after_the_observation_is_clock_skew_a_later_one_is_not():
    skewed = trail("AuthorizeSecurityGroupIngress", at=T + timedelta(minutes=1))
    assert 0.85 < attribute(change(), [skewed], WINDOW).credits[0].score < 1.0
    after = trail("AuthorizeSecurityGroupIngress", at=T + timedelta(minutes=5))
    assert attribute(change(), [after], WINDOW).method == "none"


def test_tag_apis_neither_create_nor_delete_and_do_not_compete_for_it():
    assert score(change("created", ()), trail("CreateTags"), WINDOW) == 0.0
    assert score(change("deleted", ()), trail("DeleteTags"), WINDOW) == 0.0
    # The case from the field: a lone TerminateInstances by root, an earlier CreateTags by alice,
    # and an AWS service's StopInstances that had explained the version before this one.
    candidates = [trail("CreateTags", event_id="tag", at=T - timedelta(minutes=50)),
                  trail("StopInstances", actor=AUTOSCALING, event_id="stop", at=WINDOW.start - timedelta(minutes=5)),
                  trail("TerminateInstances", actor=ROOT, event_id="kill")]
    result = attribute(change("deleted", ()), candidates, WINDOW)
    assert (result.actor.name, result.evidence, result.confidence) == ("root", ["kill"], cloudtrail_confidence(1.0))
    assert [(c.actor.name, c.share, c.score) for c in result.credits] == [("root", 1.0, 1.0)]  # nobody competed


def test_without_a_consistent_call_a_deletion_still_takes_what_touched_the_resource():
    result = attribute(change("deleted", ()), [trail("StopInstances", actor=BOB)], WINDOW)
    assert (result.actor.name, result.method) == ("bob", "cloudtrail")


def test_a_version_changed_by_several_actors_names_them_all_with_their_share():
    diff = [RULE, FieldChange(path="tags.owner", op="add", new="team"),
            FieldChange(path="tags.env", op="add", new="prod")]
    candidates = [trail("AuthorizeSecurityGroupIngress", event_id="e1"),
                  trail("CreateTags", actor=BOB, event_id="e2", at=T - timedelta(minutes=5))]
    result = attribute(change(diff=diff), candidates, WINDOW)
    assert [(c.actor.name, c.share, c.confidence, c.evidence) for c in result.credits] == [
        ("bob", 0.667, cloudtrail_confidence(1.0), ["e2"]), ("alice", 0.333, cloudtrail_confidence(1.0), ["e1"])]
    assert (result.actor.name, result.evidence) == ("bob", ["e1", "e2"])  # the main author, every co-author's evidence
    record = result.as_record()
    assert [(a["actor"]["name"], a["share"], a["score"]) for a in record["actors"]] == [
        ("bob", 0.667, 1.0), ("alice", 0.333, 1.0)]


def test_equal_shares_go_to_the_later_author_first():
    diff = [RULE, FieldChange(path="tags.owner", op="add", new="team")]
    candidates = [trail("CreateTags", actor=BOB, event_id="e2", at=T - timedelta(minutes=5)),
                  trail("AuthorizeSecurityGroupIngress", event_id="e1", at=T - timedelta(minutes=9))]
    result = attribute(change(diff=diff), candidates, WINDOW)
    assert [(c.actor.name, c.share) for c in result.credits] == [("bob", 0.5), ("alice", 0.5)]


def test_actors_competing_for_one_part_are_not_co_authors():
    result = attribute(change(), [trail("AuthorizeSecurityGroupIngress"),
                                  trail("AuthorizeSecurityGroupIngress", actor=BOB, event_id="e2")], WINDOW)
    assert [c.actor.name for c in result.credits] == ["alice"]  # the later of two equal calls


def test_creation_and_deletion_names():
    created = attribute(change("created", ()), [trail("CreateSecurityGroup")], WINDOW)
    deleted = attribute(change("deleted", ()), [trail("DeleteSecurityGroup", actor=BOB)], WINDOW)
    assert (created.actor.name, created.confidence) == ("alice", cloudtrail_confidence(1.0))
    assert (deleted.actor.name, deleted.confidence) == ("bob", cloudtrail_confidence(1.0))


def test_without_cloudtrail_tags_give_a_guess_at_its_rules_measured_confidence():
    stack = attribute(change("created", (), tags={"aws:cloudformation:stack-name": "web"}), [], WINDOW)
    assert (stack.method, stack.actor.via, stack.rule) == ("heuristic", "cloudformation", "cloudformation-stack")
    assert stack.confidence == HEURISTIC_RULES["cloudformation-stack"]
    assert stack.evidence == ["tag:aws:cloudformation:stack-name=web"]
    assert stack.as_record()["rule"] == "cloudformation-stack"
    terraform = attribute(change("created", (), tags={"ManagedBy": "Terraform"}), [], WINDOW)
    assert (terraform.actor.via, terraform.actor.kind, terraform.rule) == ("terraform", "automation", "iac-tool-tag")
    assert terraform.confidence == HEURISTIC_RULES["iac-tool-tag"]
    creator = attribute(change(tags={"created-by": "carol@example.com"}), [], WINDOW)
    assert (creator.actor.name, creator.confidence) == ("carol@example.com", HEURISTIC_RULES["created-by-tag"])
    assert [(c.actor.name, c.share) for c in creator.credits] == [("carol@example.com", 1.0)]
    nobody = attribute(change(), [], WINDOW)
    assert (nobody.confidence, nobody.credits) == (0.0, [])


@pytest.mark.parametrize("tags", [
    {"ManagedBy": "terraform"}, {"managed-by": "Pulumi"}, {"pulumi:project": "web"}, {"terraform": "true"},
    {"aws:cloudformation:stack-name": "web"},
])
@pytest.mark.parametrize("kind", ["modified", "deleted"])
def test_iac_tags_never_make_the_iac_tool_the_actor_of_a_change_without_a_trail_record(tags, kind):
    """An IaC tag says who owns the resource; a hand-made change to it must not be pinned on the tool."""
    found = attribute(change(kind, (RULE,) if kind == "modified" else (), tags=tags), [], WINDOW)
    assert (found.method, found.actor.name, found.confidence) == ("none", None, 0.0)


def test_a_trail_record_still_names_the_real_actor_of_a_change_to_an_iac_resource():
    found = attribute(change(tags={"ManagedBy": "terraform"}), [trail("AuthorizeSecurityGroupIngress")], WINDOW)
    assert (found.method, found.actor.name) == ("cloudtrail", "alice")


def test_other_tags_still_guess_a_change_to_an_iac_resource():
    found = attribute(change(tags={"ManagedBy": "terraform", "aws:autoscaling:groupName": "web"}), [], WINDOW)
    assert (found.method, found.actor.via) == ("heuristic", "autoscaling")
