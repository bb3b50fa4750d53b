"""A head holds its version's leading fields, not the whole record: reading it whole reads the
version; heads written whole by an older store are read as they are."""

from dataclasses import replace

import pytest

from elava.exceptions import StoreError
from streams.store.keyspaces import head_key, version_key
from streams.store.kv import MemoryKV
from streams.store.queries import InventoryFilter, TemporalQueries
from streams.store.records import RecordLead, Version, head_record, head_record_of
from streams.store.versioned import HEADS_READ_TOGETHER, VersionStore, from_micros

RESOURCE = {"uid": "arn:aws:ec2:eu-west-1:111122223333:security-group/sg-1", "type": "ec2.security-group",
            "id": "sg-1", "account": "111122223333", "region": "eu-west-1", "name": "web",
            "tags": {"team": "payments"}, "attributes": {"vpc_id": "vpc-1"}}
FIRST = Version(uid=RESOURCE["uid"], version=1, kind="created", valid_from=1_790_000_000_000_000,
                hash="09230ed9677e66bd", cause="585a7142caa56afb", shard="111122223333/eu-west-1/ec2.security-group/0",
                resource=RESOURCE, attribution={"actor": {"arn": "arn:aws:iam::1:user/alice"}})
SECOND = replace(FIRST, version=2, kind="modified", valid_from=FIRST.valid_from + 5, hash="aa", cause="bb",
                 resource={**RESOURCE, "tags": {"team": "search"}}, diff=[{"path": "tags.team"}])
GONE = replace(FIRST, version=3, kind="deleted", valid_from=FIRST.valid_from + 9, hash="", cause="cc", resource=None)


def stored(*versions: Version) -> tuple[MemoryKV, VersionStore]:
    kv = MemoryKV()
    store = VersionStore(kv)
    previous = None
    for version in versions:
        store.append(version, previous)
        previous = version
    return kv, store


def test_a_head_holds_the_leading_fields_and_reads_its_version_whole():
    kv, store = stored(FIRST, SECOND)
    head_bytes = kv.get(head_key(FIRST.uid))
    assert head_bytes == head_record(SECOND)
    assert b'"resource":' not in head_bytes and len(head_bytes) < len(SECOND.to_bytes()) / 2
    lead = store.head_lead(FIRST.uid)
    assert (lead.version, lead.kind, lead.valid_from, lead.hash, lead.cause) == (2, "modified", SECOND.valid_from,
                                                                                 "aa", "bb")
    assert lead.resource_id() == "sg-1" and lead.shard() == FIRST.shard
    assert lead.full() == SECOND == store.head(FIRST.uid)
    assert list(store.heads()) == [SECOND]


def test_a_tombstones_head_has_no_resource():
    kv, store = stored(FIRST, GONE)
    lead = store.head_lead(FIRST.uid)
    assert lead.deleted and lead.resource_id() is None and lead.shard() == FIRST.shard
    assert store.head(FIRST.uid) == GONE


def test_a_head_written_whole_before_is_read_as_it_is():
    kv, store = stored(FIRST, SECOND)
    kv.put(head_key(FIRST.uid), SECOND.to_bytes())  # as stores before head_record wrote it
    kv.delete(version_key(FIRST.uid, 2))  # not read: the head holds the record
    lead = store.head_lead(FIRST.uid)
    assert lead.source is None and lead.resource_id() == "sg-1"
    assert lead.full() == SECOND == store.head(FIRST.uid)
    assert list(store.heads()) == [SECOND]


def test_heads_reads_whole_and_pointer_heads_alike_across_batches():
    kv = MemoryKV()
    store = VersionStore(kv)
    versions = [replace(FIRST, uid=f"{FIRST.uid}{i:03d}", resource={**RESOURCE, "id": f"sg-{i}"}) for i in range(7)]
    for version in versions:
        store.append(version)
    for version in versions[::3]:
        kv.put(head_key(version.uid), version.to_bytes())
    assert list(store.heads(batch=2)) == versions


def test_a_head_whose_version_is_missing_says_so():
    kv, store = stored(FIRST)
    kv.delete(version_key(FIRST.uid, 1))
    with pytest.raises(StoreError, match="names version 1"):
        store.head(FIRST.uid)


@pytest.mark.parametrize("version", [
    FIRST, SECOND, GONE,
    replace(FIRST, resource={**RESOURCE, "id": 'odd"id', "region": "eu-wést-1"}),  # escaped, and not ASCII
    replace(FIRST, cause="not-a-hex-id"),  # ids from elsewhere may hold any character
    replace(FIRST, resource={"id": "sg-1", "tags": {}}),  # another field order
], ids=["created", "modified", "deleted", "escaped", "odd-cause", "reordered"])
def test_a_head_rebuilt_from_its_version_record_is_the_one_written(version):
    assert head_record_of(version.uid, version.to_bytes()) == head_record(version)
    lead = RecordLead.from_bytes(version.uid, head_record(version), MemoryKV())
    assert (lead.version, lead.kind, lead.valid_from, lead.hash, lead.cause) == (
        version.version, version.kind, version.valid_from, version.hash, version.cause)


def test_inventory_filters_pointer_heads_by_account_region_and_type():
    other = replace(FIRST, uid=FIRST.uid + "x", resource={**RESOURCE, "account": "999988887777"})
    _, store = stored(FIRST)
    store.append(other)
    queries = TemporalQueries(store)
    moment = from_micros(FIRST.valid_from + 1)
    assert [v.uid for v in queries.inventory(moment, InventoryFilter(account="111122223333"))] == [FIRST.uid]
    assert [v.uid for v in queries.inventory(moment, InventoryFilter(type="ec2.security-group"))] == [
        FIRST.uid, other.uid]
    assert list(queries.inventory(moment, InventoryFilter(region="us-east-1"))) == []


def test_inventory_reads_heads_by_batch_as_each_resource_reads_alone():
    kv = MemoryKV()
    store = VersionStore(kv)
    uids = [f"{FIRST.uid}-{i:04d}" for i in range(HEADS_READ_TOGETHER + 90)]
    for index, uid in enumerate(uids):
        first = replace(FIRST, uid=uid, resource={**RESOURCE, "uid": uid, "id": f"sg-{index}"})
        store.append(first)
        if index % 3 == 0:  # changed after the moment asked: its history answers, not its head
            store.append(replace(SECOND, uid=uid, resource={**first.resource, "tags": {}}), first)
        if index % 7 == 0:  # a head written whole, as older stores did
            kv.put(head_key(uid), store.head(uid).to_bytes())
    moment = from_micros(FIRST.valid_from + 1)
    found = list(TemporalQueries(store).inventory(moment))
    assert found == [store.as_of(uid, moment) for uid in uids]
    assert sum(1 for version in found if version.version == 1) == len(uids)


class CountingKV(MemoryKV):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, key):
        self.gets += 1
        return super().get(key)

    def get_many(self, keys):
        return [self._data.get(key) for key in keys]


def test_inventory_reads_the_versions_of_answering_heads_together_not_one_by_one():
    kv = CountingKV()
    store = VersionStore(kv)
    for index in range(HEADS_READ_TOGETHER + 5):
        uid = f"{FIRST.uid}-{index:04d}"
        store.append(replace(FIRST, uid=uid, resource={**RESOURCE, "uid": uid}))
    kv.gets = 0
    found = list(TemporalQueries(store).inventory(from_micros(FIRST.valid_from + 1)))
    assert len(found) == HEADS_READ_TOGETHER + 5 and kv.gets == 0


def test_a_pointer_head_with_an_odd_cause_is_read_and_restored():
    from streams.store.changelog import restore

    odd = replace(FIRST, cause="not-a-hex-id")
    lead = RecordLead.from_bytes(odd.uid, head_record(odd))
    assert (lead.version, lead.cause) == (1, "not-a-hex-id")
    kv = MemoryKV()
    restore(kv, version_key(odd.uid, 1), odd.to_bytes())
    restore(kv, version_key(odd.uid, 2), replace(SECOND, cause="ct-1").to_bytes())
    assert VersionStore(kv).head(odd.uid).version == 2


def test_removing_a_resource_drops_its_head_before_its_versions():
    kv, store = stored(FIRST, GONE)
    deleted: list[bytes] = []
    kv.delete = lambda key: (deleted.append(key), MemoryKV.delete(kv, key))  # type: ignore[method-assign]
    store.remove_resource(store.head(FIRST.uid), store.versions(FIRST.uid))
    assert deleted[0] == head_key(FIRST.uid) and version_key(FIRST.uid, 3) in deleted
