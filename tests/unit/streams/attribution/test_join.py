"""The join in the store: early, late, duplicated, competing and missing trail events."""

from datetime import timedelta

from elava.events import Actor, TouchedResource, TrailEvent
from streams.attribution.join import VersionAttribution
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, marker, page, sg, shard

RULE = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
ALICE = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/alice", name="alice", kind="human")
BOB = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/bob", name="bob", kind="human")


def pipeline():
    """The processor: observe decides, attribution judges, the version is stored once."""
    processor = PartitionProcessor(VersionStore(MemoryKV()))
    return processor, processor.attributor


def trail(name, at, actor=ALICE, event_id="e1", group="sg-1"):
    uid = sg(group).uid
    return TrailEvent(trail_event_id=event_id, event_name=name, event_source="ec2.amazonaws.com", event_time=at,
                      account=ACCOUNT, region=REGION, actor=actor,
                      resource=TouchedResource(uid=uid, type="ec2.security-group", id=group))


def baseline(processor):
    """sg-1 exists and a complete scan of its shard has been seen."""
    processor.process(page([sg("sg-1")], T0, scan="s1"))
    processor.process(marker(shard(sg("sg-1")), [sg("sg-1")], T0, scan="s1"))


def open_ssh(processor, at=T0 + timedelta(hours=1)):
    """The attributed change of opening SSH, as published with the change."""
    (attributed,) = processor.process(page([sg("sg-1", ingress=[RULE])], at, scan="s2")).attributed
    return attributed


def stored(processor, version):
    """The attribution stored with a version (what `elava who` reads)."""
    record = processor.store.get_version(sg("sg-1").uid, version).attribution
    return VersionAttribution.from_record(record).result


def test_trail_event_first_attributes_at_once():
    processor, attributor = pipeline()
    baseline(processor)
    assert attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40))) == []
    attributed = open_ssh(processor)
    assert (attributed.actor.name, attributed.confidence, attributed.provisional) == ("alice", 1.0, False)


def test_late_trail_event_upgrades_the_provisional_attribution_under_the_same_change():
    processor, attributor = pipeline()
    baseline(processor)
    provisional = open_ssh(processor)
    change = provisional.change
    assert provisional.provisional and provisional.confidence == 0.0

    (update,) = attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40)))
    assert update.change.event_id == change.event_id
    assert (update.actor.name, update.confidence, update.provisional) == ("alice", 1.0, False)
    assert stored(processor, 2).actor.name == "alice"  # stored on the version: `elava who` sees it


def test_duplicated_trail_event_publishes_nothing_new():
    processor, attributor = pipeline()
    baseline(processor)
    open_ssh(processor)
    event = trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40))
    assert len(attributor.on_trail(event)) == 1
    assert attributor.on_trail(event) == []


def test_competing_actors_never_give_a_confident_answer():
    processor, attributor = pipeline()
    baseline(processor)
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=30), BOB, "e2"))
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40)))
    assert open_ssh(processor).confidence < 0.9  # a tie: as calibrated, never confident


def test_an_event_that_explains_an_older_version_is_not_reused():
    processor, attributor = pipeline()
    baseline(processor)
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 - timedelta(days=2)))
    assert open_ssh(processor).confidence == 0.0


def test_deletions_are_attributed_too():
    processor, attributor = pipeline()
    baseline(processor)
    attributor.on_trail(trail("DeleteSecurityGroup", T0 + timedelta(minutes=20), BOB, "e9"))
    (attributed,) = processor.process(marker(shard(sg("sg-1")), [], T0 + timedelta(hours=1), scan="s2")).attributed
    deleted = attributed.change
    assert (deleted.kind, attributed.actor.name, attributed.confidence) == ("deleted", "bob", 1.0)
