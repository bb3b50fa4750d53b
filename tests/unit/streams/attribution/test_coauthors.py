"""A version changed by several actors between two scans names them all, with their share,
through the store's join (on time and when a co-author's trail arrives late)."""

from datetime import timedelta

from streams.attribution.join import VersionAttribution
from tests.unit.streams.attribution.test_join import BOB, RULE, T0, baseline, pipeline, sg, trail
from tests.unit.streams.fixtures import page


def rule_and_tag(processor):
    """The attributed change of a rule added and a tag set between two scans, as published."""
    (attributed,) = processor.process(page([sg("sg-1", tags={"env": "prod"}, ingress=[RULE])],
                                           T0 + timedelta(hours=1), scan="s2")).attributed
    return attributed


def shares(attributed):
    return [(c.actor.name, c.share) for c in attributed.actors]


def test_two_people_changing_two_parts_are_both_named():
    processor, attributor = pipeline()
    baseline(processor)
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40)))
    attributor.on_trail(trail("CreateTags", T0 + timedelta(minutes=45), actor=BOB, event_id="e2"))
    attributed = rule_and_tag(processor)
    assert shares(attributed) == [("bob", 0.5), ("alice", 0.5)]  # equal shares: the later first
    assert (attributed.actor.name, attributed.evidence) == ("bob", ["e1", "e2"])


def test_a_co_author_whose_trail_arrives_late_is_added_and_published_again():
    processor, attributor = pipeline()
    baseline(processor)
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40)))
    first = rule_and_tag(processor)
    change = first.change
    assert shares(first) == [("alice", 1.0)]  # the tags are not explained yet
    (update,) = attributor.on_trail(trail("CreateTags", T0 + timedelta(minutes=30), actor=BOB, event_id="e2"))
    assert update.change.event_id == change.event_id and update.event_id != first.event_id
    assert shares(update) == [("alice", 0.5), ("bob", 0.5)]
    stored = VersionAttribution.from_record(processor.store.get_version(change.uid, change.new_version).attribution)
    assert [(c.actor.name, c.share) for c in stored.result.credits] == shares(update)  # `elava who` sees both
