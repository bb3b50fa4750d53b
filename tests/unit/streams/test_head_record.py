"""A head holds its version's leading fields, not the whole record: reading it whole reads the
version; heads written whole by an older store are read as they are."""

from dataclasses import replace

import pytest

from elava.exceptions import StoreError
from streams.store.keyspaces import head_key, version_key
from streams.store.kv import MemoryKV
from streams.store.queries import InventoryFilter, TemporalQueries
from streams.store.records import RecordLead, Version, head_record, head_record_of
from streams.store.versioned import VersionStore, from_micros

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
