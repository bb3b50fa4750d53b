"""The join in the store: early, late, duplicated, competing and missing trail events."""

from datetime import timedelta

from elava.events import Actor, TouchedResource, TrailEvent
from streams.attribution.join import Attributor
from streams.observe import Observer
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, marker, page, sg, shard

RULE = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
ALICE = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/alice", name="alice", kind="human")
BOB = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/bob", name="bob", kind="human")


def pipeline():
    store = VersionStore(MemoryKV())
    attributor = Attributor(store)
    return Observer(store, annotate=attributor.annotate), attributor


def trail(name, at, actor=ALICE, event_id="e1", group="sg-1"):
    uid = sg(group).uid
    return TrailEvent(trail_event_id=event_id, event_name=name, event_source="ec2.amazonaws.com", event_time=at,
                      account=ACCOUNT, region=REGION, actor=actor,
                      resource=TouchedResource(uid=uid, type="ec2.security-group", id=group))


def baseline(observer):
    """sg-1 exists and a complete scan of its shard has been seen."""
    observer.observe(page([sg("sg-1")], T0, scan="s1"))
    observer.close_scan(marker(shard(sg("sg-1")), [sg("sg-1")], T0, scan="s1"))


def open_ssh(observer, at=T0 + timedelta(hours=1)):
    (change,) = observer.observe(page([sg("sg-1", ingress=[RULE])], at, scan="s2"))
    return change


def test_trail_event_first_attributes_at_once():
    observer, attributor = pipeline()
    baseline(observer)
    assert attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40))) == []
    attributed = attributor.attributed(open_ssh(observer))
    assert (attributed.actor.name, attributed.confidence, attributed.provisional) == ("alice", 1.0, False)


def test_late_trail_event_upgrades_the_provisional_attribution_under_the_same_change():
    observer, attributor = pipeline()
    baseline(observer)
    change = open_ssh(observer)
    provisional = attributor.attributed(change)
    assert provisional.provisional and provisional.confidence == 0.0

    (update,) = attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40)))
    assert update.change.event_id == change.event_id
    assert (update.actor.name, update.confidence, update.provisional) == ("alice", 1.0, False)
    assert attributor.attributed(change).actor.name == "alice"  # stored on the version: `elava who` sees it


def test_duplicated_trail_event_publishes_nothing_new():
    observer, attributor = pipeline()
    baseline(observer)
    open_ssh(observer)
    event = trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40))
    assert len(attributor.on_trail(event)) == 1
    assert attributor.on_trail(event) == []


def test_competing_actors_never_give_a_confident_answer():
    observer, attributor = pipeline()
    baseline(observer)
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=30), BOB, "e2"))
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=40)))
    assert attributor.attributed(open_ssh(observer)).confidence < 0.9  # a tie: as calibrated, never confident


def test_an_event_that_explains_an_older_version_is_not_reused():
    observer, attributor = pipeline()
    baseline(observer)
    attributor.on_trail(trail("AuthorizeSecurityGroupIngress", T0 - timedelta(days=2)))
    assert attributor.attributed(open_ssh(observer)).confidence == 0.0


def test_deletions_are_attributed_too():
    observer, attributor = pipeline()
    baseline(observer)
    attributor.on_trail(trail("DeleteSecurityGroup", T0 + timedelta(minutes=20), BOB, "e9"))
    (deleted,) = observer.close_scan(marker(shard(sg("sg-1")), [], T0 + timedelta(hours=1), scan="s2"))
    attributed = attributor.attributed(deleted)
    assert (deleted.kind, attributed.actor.name, attributed.confidence) == ("deleted", "bob", 1.0)
