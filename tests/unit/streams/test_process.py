"""The change path is straight: decided once in memory, attributed from that, stored once,
published from typed values; nothing just written is read back. Drift settings act."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

import streams.observe
from elava.events import Actor, TouchedResource, TrailEvent
from elava.exceptions import SchemaError
from elava.settings import DriftSettings
from streams.analyzers.reports import drift_report
from streams.pages import read_page
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, marker, page, sg, shard

SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}


class RecordingKV(MemoryKV):
    """A MemoryKV that remembers, in order, which keys were read and written."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, bytes]] = []

    def get(self, key):
        self.log.append(("read", key))
        return super().get(key)

    def put(self, key, value):
        self.log.append(("write", key))
        super().put(key, value)

    def delete(self, key):
        self.log.append(("write", key))
        super().delete(key)

    def reads_after_writes(self) -> list[bytes]:
        written, again = set(), []
        for op, key in self.log:
            if op == "write":
                written.add(key)
            elif key in written:
                again.append(key)
        return again


def trail(name, at, group="sg-1"):
    return TrailEvent(trail_event_id="t1", event_name=name, event_source="ec2.amazonaws.com", event_time=at,
                      account=ACCOUNT, region=REGION, actor=Actor(type="IAMUser", name="alice", kind="human"),
                      resource=TouchedResource(uid=sg(group).uid, type="ec2.security-group", id=group))


def test_creating_modifying_and_deleting_read_nothing_they_wrote():
    kv = RecordingKV()
    processor = PartitionProcessor(VersionStore(kv))
    resources = [sg(f"sg-{n}") for n in range(30)]
    members = [r for r in resources if shard(r) == shard(resources[0])]
    inputs = [page(members, T0, scan="s1"),  # creations
              page([sg(members[0].id, ingress=[SSH_WORLD])], T0 + timedelta(hours=1), scan="s2"),  # a change
              marker(shard(members[0]), members[1:], T0 + timedelta(hours=2), scan="s3")]  # a deletion
    for event in inputs:
        kv.log.clear()
        produced = processor.process(event)
        assert produced.changes and kv.reads_after_writes() == [], event.ce_type
        heads = [key for op, key in kv.log if op == "read" and key.startswith(b"h\x00")]
        assert len(heads) == len(set(heads)), "one head read per resource and input"


def test_each_change_event_is_built_once(monkeypatch):
    built = []
    original = streams.observe.change_from_version
    monkeypatch.setattr(streams.observe, "change_from_version", lambda *a: built.append(a) or original(*a))
    produced = PartitionProcessor(VersionStore(MemoryKV())).process(page([sg("sg-1")], T0))
    assert len(built) == 1 and len(produced.changes) == 1
    assert produced.attributed[0].change is produced.changes[0]  # the same value, not a rebuilt copy


def test_the_stored_version_carries_the_attribution_that_was_published():
    store = VersionStore(MemoryKV())
    produced = PartitionProcessor(store).process(page([sg("sg-1", {"ManagedBy": "terraform"})], T0))
    (attributed,) = produced.attributed
    stored = store.head(sg("sg-1").uid).attribution
    assert stored["actor"] == attributed.actor.model_dump(mode="json") and attributed.actor.via == "terraform"
    assert stored["confidence"] == attributed.confidence > 0


def test_a_redelivered_page_republishes_the_stored_attribution_without_judging_again():
    processor = PartitionProcessor(VersionStore(MemoryKV()))
    first = processor.process(page([sg("sg-1", {"ManagedBy": "terraform"})], T0))

    def judge_again(*_args):
        raise AssertionError("a replay must publish what was stored, not judge again")

    processor.attributor._judge = judge_again
    again = processor.process(page([sg("sg-1", {"ManagedBy": "terraform"})], T0))
    assert (again.changes, again.attributed) == (first.changes, first.attributed)


def drift_after_ssh(settings: DriftSettings):
    processor = PartitionProcessor(VersionStore(MemoryKV()), settings)
    processor.process(page([sg("sg-1")], T0, scan="s1"))
    opened = processor.process(page([sg("sg-1", ingress=[SSH_WORLD])], T0 + timedelta(hours=1), scan="s2"))
    late = processor.process(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=30)))
    return opened, late


def test_drift_is_reported_and_reported_again_with_its_actor_by_default():
    opened, late = drift_after_ssh(DriftSettings())
    assert [d.severity for d in opened.drift] == ["critical"] and opened.drift[0].actor is None
    assert [d.actor.name for d in late.drift] == ["alice"]


def test_a_query_derives_the_drift_last_published_for_a_version_not_a_kept_copy():
    store = VersionStore(kv := MemoryKV())
    processor = PartitionProcessor(store)
    processor.process(page([sg("sg-1")], T0, scan="s1"))
    modified = page([sg("sg-1", ingress=[SSH_WORLD])], T0 + timedelta(hours=1), scan="s2")
    window = (T0, T0 + timedelta(days=1))
    for event in (modified, trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=30))):
        [drift] = processor.process(event).drift  # the modification's drift, then the same drift with its actor
        assert drift_report(store, *window) == [drift]
    assert not [key for key, _ in kv.scan(b"f")]  # nothing kept: derived from the version and its attribution


def test_where_a_drift_stage_derives_drift_the_processor_reports_none():
    processor = PartitionProcessor(VersionStore(MemoryKV()), drift_here=False)
    processor.process(page([sg("sg-1")], T0, scan="s1"))
    opened = processor.process(page([sg("sg-1", ingress=[SSH_WORLD])], T0 + timedelta(hours=1), scan="s2"))
    late = processor.process(trail("AuthorizeSecurityGroupIngress", T0 + timedelta(minutes=30)))
    assert (opened.drift, late.drift) == ([], [])
    assert [a.actor.name for a in late.attributed] == ["alice"]


def test_drift_disabled_reports_no_drift_but_every_change_and_attribution():
    opened, late = drift_after_ssh(DriftSettings(enabled=False))
    assert (opened.drift, late.drift) == ([], [])
    assert len(opened.changes) == 1 and len(opened.attributed) == 1 and late.attributed[0].actor.name == "alice"


def test_drift_without_attribution_names_no_actor_and_is_not_reported_again():
    opened, late = drift_after_ssh(DriftSettings(attribution=False))
    assert [d.actor for d in opened.drift] == [None]
    assert late.drift == [] and late.attributed[0].actor.name == "alice"  # `elava who` and policies still know


# --- a page read lazily (streams/pages.py) makes exactly what the validated page makes


def inputs_of_a_life():
    """Creations, modifications, unchanged sightings, a redelivery, an older page, a uid seen twice,
    a deletion and a re-creation: what a partition meets."""
    first = page([sg("sg-1"), sg("sg-4"), sg("sg-8")], T0, scan="s1")
    second = page([sg("sg-1", ingress=[SSH_WORLD]), sg("sg-4"), sg("sg-8", {"team": "data"})],
                  T0 + timedelta(hours=1), scan="s2")
    twice = page([sg("sg-1"), sg("sg-4", {"team": "search"}), sg("sg-1", ingress=[SSH_WORLD])],
                 T0 + timedelta(hours=2), scan="s3")
    closing = marker(shard(sg("sg-1")), [sg("sg-1"), sg("sg-4")], T0 + timedelta(hours=2, minutes=1), scan="s3")
    back = page([sg("sg-1", ingress=[SSH_WORLD]), sg("sg-4", {"team": "search"}), sg("sg-8", {"team": "data"})],
                T0 + timedelta(hours=3), scan="s4")
    return [first, second, second, first, twice, closing, back, back]


def test_lazily_read_pages_make_the_same_changes_and_store_the_same_bytes():
    validated, lazy, changes = MemoryKV(), MemoryKV(), 0
    for event in inputs_of_a_life():
        made = PartitionProcessor(VersionStore(validated)).process(event)
        read = read_page(event.to_bytes()) if event.ce_type == "elava.observation" else event
        assert read is not None
        made_lazily = PartitionProcessor(VersionStore(lazy)).process(read)
        assert [e.event_id for e in made_lazily.events()] == [e.event_id for e in made.events()]
        assert [c.to_bytes() for c in made_lazily.changes] == [c.to_bytes() for c in made.changes]
        assert lazy._data == validated._data
        changes += len(made.changes)
    assert changes == 18  # each input made or re-emitted changes: the comparison is of real outputs


@pytest.mark.parametrize("index", [1, 2])  # a resource that has a head, one that has none
def test_a_malformed_changed_resource_refuses_the_whole_page_before_any_write(index):
    kv = MemoryKV()
    processor = PartitionProcessor(VersionStore(kv))
    processor.process(page([sg("sg-1"), sg("sg-4")], T0, scan="s1"))
    body = orjson.loads(page([sg("sg-1", {"team": "data"}), sg("sg-4"), sg("sg-8")],
                             T0 + timedelta(hours=1), scan="s2").to_bytes())
    body["resources"][index]["tags"] = {"team": 7}  # after a valid modification
    before = dict(kv._data)
    with pytest.raises(SchemaError, match=rf"resources\.{index}\.tags\.team"):
        processor.process(read_page(orjson.dumps(body)))
    assert kv._data == before  # nothing of the page applied, not even its valid modification
