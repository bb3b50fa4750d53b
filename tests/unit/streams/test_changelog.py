"""What the changelog carries per change, and that a store restored from it is the same store."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from elava.events import Actor, TouchedResource, TrailEvent
from streams.layout import align_layout
from streams.observe import Observer
from streams.process import PartitionProcessor
from streams.store import changelog
from streams.store.changelog import Changelogged, restore_all
from streams.store.keyspaces import KEYSPACES, SEP, is_derived, keyspace_of
from streams.store.kv import MemoryKV
from streams.store.retention import enforce_retention
from streams.store.versioned import VersionStore, to_micros
from tests.unit.streams.fixtures import ACCOUNT, BUCKETS, REGION, T0, marker, page, sg, shard
from tests.unit.streams.test_keyspaces import everything
from tests.unit.streams.test_relations import instance

Record = tuple[bytes, bytes | None]
DAY = timedelta(days=1)
SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}


def recorded() -> tuple[MemoryKV, list[Record], VersionStore]:
    """A store whose writes go through the worker's changelog path, and the records it made."""
    kv, records = MemoryKV(), []
    return kv, records, VersionStore(Changelogged(kv, lambda key, value: records.append((key, value))))


def by_keyspace(records: list[Record]) -> Counter:
    return Counter(keyspace_of(key).name for key, _ in records)


def one_shard(count: int, prefix: str) -> list:
    first = sg(f"{prefix}-0")
    members = (sg(f"{prefix}-{n}") for n in range(count * BUCKETS * 4))
    return [r for r in members if shard(r) == shard(first)][:count]


def test_a_created_resource_is_at_most_two_changelog_records():
    _, records, store = recorded()
    groups = one_shard(40, "sg")
    assert len(groups) == 40
    PartitionProcessor(store).process(page(groups, T0))
    assert by_keyspace(records) == {"versions": 40, "shard membership": 40}
    assert len(records) / len(groups) <= 2


def test_a_modified_resource_is_its_version_record_alone():
    """The drift of a tag change is not kept (streams/store/findings.py): a function of the
    version and its attribution, it is derived again on read, so no second record travels."""
    _, records, store = recorded()
    groups = one_shard(10, "sg")
    processor = PartitionProcessor(store)
    processor.process(page(groups, T0, scan="s1"))
    records.clear()
    processor.process(page([sg(g.id, {"owner": "bob"}) for g in groups], T0 + timedelta(hours=1), scan="s2"))
    assert by_keyspace(records) == {"versions": 10}


def test_the_local_store_still_holds_heads_the_time_indexes_and_used_by():
    kv, records, store = recorded()
    PartitionProcessor(store).process(page([sg("sg-1")], T0))  # its VPC: one edge
    assert by_keyspace([(key, None) for key in kv._data]) == {
        "versions": 1, "heads": 1, "time index": 1, "time index by shard": 1, "shard membership": 1,
        "used by (relationships)": 1}
    assert by_keyspace(records) == {"versions": 1, "shard membership": 1}


def trail(group: str, at, event_id: str) -> TrailEvent:
    return TrailEvent(trail_event_id=event_id, event_name="AuthorizeSecurityGroupIngress",
                      event_source="ec2.amazonaws.com", event_time=at, account=ACCOUNT, region=REGION,
                      actor=Actor(type="IAMUser", name="alice", kind="human"),
                      resource=TouchedResource(uid=sg(group).uid, type="ec2.security-group", id=group))


def changes(store: VersionStore, now=T0) -> None:
    """Creations, changes, a late CloudTrail event that rewrites the attribution of a version
    that is no longer the head, a redelivered page, a deletion by a marker."""
    processor = PartitionProcessor(store)
    a, b, c = one_shard(3, "sg")
    first = page([a, b, c], now, scan="s1")
    processor.process(first)
    processor.process(marker(shard(a), [a, b, c], now, scan="s1"))
    processor.process(page([sg(a.id, ingress=[SSH_WORLD]), b, c], now + timedelta(hours=1), scan="s2"))
    processor.process(page([sg(a.id, {"owner": "bob"}, [SSH_WORLD])], now + timedelta(hours=2), scan="s3"))
    (late,) = processor.process(trail(a.id, now + timedelta(minutes=40), "e1")).attributed
    assert (late.change.new_version, late.actor.name) == (2, "alice")  # version 2 of a rewritten
    processor.process(first)  # a redelivery: written again as it was
    processor.process(marker(shard(a), [a, b], now + timedelta(hours=3), scan="s4"))  # c deleted


def expiries(store: VersionStore, now=T0) -> None:
    """A layout change that moves memberships, retention, and a resource created since."""
    align_layout(store, BUCKETS)
    align_layout(store, BUCKETS * 2)
    enforce_retention(store, timedelta(days=30), now + 31 * DAY)  # c goes; a's and b's old versions go
    PartitionProcessor(store).process(page([sg("sg-late")], now + 31 * DAY, scan="s5"))


def compacted(records: list[Record]) -> list[Record]:
    """What Kafka's compaction may leave: the last record of each key, in the log's order,
    tombstones dropped once older than ``delete.retention.ms``."""
    last = {key: offset for offset, (key, _) in enumerate(records)}
    return [(key, value) for offset, (key, value) in enumerate(records) if last[key] == offset and value is not None]


def restored_from(records: list[Record]) -> dict[bytes, bytes]:
    kv = MemoryKV()
    restore_all(kv, records)
    return kv._data


def test_restoring_the_changelog_gives_the_same_store():
    kv, records, store = recorded()
    changes(store)
    assert {b"v", b"h", b"t", b"m", b"e", b"s"} <= {key[:1] for key in kv._data}
    assert restored_from(records) == kv._data
    expiries(store)
    assert restored_from(records) == kv._data


def test_restoring_a_compacted_changelog_gives_the_same_store():
    kv, records, store = recorded()
    changes(store)
    assert restored_from(compacted(records)) == kv._data
    expiries(store)
    assert restored_from(compacted(records)) == kv._data


def test_a_changelog_written_by_an_older_worker_restores_to_the_same_store(monkeypatch):
    """Older workers also wrote heads and time-index entries: the deletions carried now make
    compaction forget those, so nothing stale comes back."""
    kv, records, store = recorded()
    monkeypatch.setattr(changelog, "is_derived", lambda key: False)  # as older workers wrote
    observer = Observer(store)
    groups = one_shard(3, "sg")
    observer.observe(page(groups, T0, scan="s1"))
    observer.observe(page([sg(groups[0].id, {"owner": "bob"})], T0 + timedelta(hours=1), scan="s2"))
    monkeypatch.undo()
    observer.observe(page([sg(groups[0].id, {"owner": "eve"})], T0 + timedelta(hours=2), scan="s3"))
    observer.close_scan(marker(shard(groups[0]), groups[1:], T0 + timedelta(hours=3), scan="s4"))
    enforce_retention(store, timedelta(days=30), T0 + 31 * DAY)
    assert store.head(groups[0].uid) is None  # gone entirely
    restored = MemoryKV()
    restore_all(restored, compacted(records))
    assert restored._data == kv._data


def test_a_version_record_restores_its_head_only_if_it_is_the_highest():
    kv, records, store = recorded()
    observer = Observer(store)
    observer.observe(page([sg("sg-1")], T0, scan="s1"))
    observer.observe(page([sg("sg-1", {"owner": "bob"})], T0 + timedelta(hours=1), scan="s2"))
    v1 = next(record for record in records if record[0].endswith(b"\x00\x00\x00\x00\x01"))
    restored = MemoryKV()
    restore_all(restored, [*records, v1])  # version 1 written again after version 2 (a rewrite)
    assert VersionStore(restored).head(sg("sg-1").uid).version == 2
    assert restored._data == kv._data


def test_the_time_index_follows_the_latest_record_of_a_version():
    _, records, store = recorded()
    Observer(store).observe(page([sg("sg-1")], T0))
    (key, value), = [record for record in records if record[0].startswith(b"v")]
    moved = value.replace(str(to_micros(T0)).encode(), str(to_micros(T0 + DAY)).encode())
    restored = MemoryKV()
    restore_all(restored, [(key, value), (key, moved)])
    assert [entry.valid_from for entry in VersionStore(restored).changed_between(0, to_micros(T0 + 2 * DAY))] == [
        to_micros(T0 + DAY)]


def test_writes_of_derived_keys_stay_local_and_every_deletion_travels():
    kv, records = MemoryKV(), []
    logged = Changelogged(kv, lambda key, value: records.append((key, value)))
    logged.put(b"h\x00uid", b"head")
    logged.put_many([(b"t\x00" + bytes(8) + b"\x00uid\x00" + bytes(4), b""), (b"s\x00shard", b"{}")])
    logged.delete(b"h\x00uid")
    assert records == [(b"s\x00shard", b"{}"), (b"h\x00uid", None)]
    assert set(kv._data) == {b"t\x00" + bytes(8) + b"\x00uid\x00" + bytes(4), b"s\x00shard"}


def used_by(kv: MemoryKV) -> set[bytes]:
    return {key for key in kv._data if key.startswith(b"r\x00")}


def test_the_used_by_index_is_rebuilt_from_the_versions():
    """Edges come and go; retention drops the version that alone had one, and with it its entry."""
    kv, records, store = recorded()
    observer = Observer(store)
    observer.observe(page([instance(["sg-web"])], T0, scan="s1"))
    observer.observe(page([instance(["sg-admin"])], T0 + DAY, scan="s2"))
    observer.observe(page([instance(["sg-admin"], monitoring="enabled")], T0 + 2 * DAY, scan="s3"))
    had_both = used_by(kv)
    enforce_retention(store, timedelta(hours=1), now=T0 + DAY + timedelta(hours=2))  # version 1 goes
    assert len(used_by(kv)) == len(had_both) - 1  # sg-web's entry went with it
    assert not [key for key, value in records if key.startswith(b"r\x00") and value is not None]  # never sent
    assert restored_from(records) == kv._data
    assert restored_from(compacted(records)) == kv._data


def test_every_keyspace_the_store_owns_restores_to_the_same_store():
    """The pipeline's every input (pages, trail, markers, chunked parts, waste, metrics, layout,
    retention with its cursors), and edges: the changelog alone rebuilds every keyspace."""
    kv, records, store = recorded()
    everything(store.kv, T0)
    PartitionProcessor(store).process(page([instance(["sg-web"])], T0, scan="s9"))
    owned = {prefix for prefix in KEYSPACES if prefix != SEP}  # the format key is the embedded store's
    assert {key[:1] for key in kv._data} == owned
    assert restored_from(records) == kv._data
    assert restored_from(compacted(records)) == kv._data
    derived = {keyspace_of(key).name for key, value in records if value is not None and is_derived(key)}
    assert derived == set()
