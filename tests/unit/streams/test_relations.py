"""What a resource uses and what uses it, as of any time: edges kept with versions, the used-by index."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.catalogue import registry
from elava.events import Resource
from streams.observe import Observer
from streams.store.api import answer
from streams.store.kv import MemoryKV
from streams.store.queries import TemporalQueries
from streams.store.relations import RelationQueries
from streams.store.retention import enforce_retention
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, marker, page, shard


def res(type_name: str, rid: str, **attributes) -> Resource:
    uid = registry.get(type_name).uid_for(rid, account=ACCOUNT, region=REGION, partition="aws")
    return Resource(uid=uid, type=type_name, id=rid, account=ACCOUNT, region=REGION, attributes=attributes)


def uid(type_name: str, rid: str) -> str:
    return res(type_name, rid).uid


def instance(groups: list[str], subnet: str = "subnet-1", **more) -> Resource:
    return res("ec2.instance", "i-1", subnet_id=subnet, vpc_id="vpc-1", security_groups=groups,
               volumes=["vol-1"], iam_instance_profile=f"arn:aws:iam::{ACCOUNT}:instance-profile/web", **more)


class RecordingKV(MemoryKV):
    """Remembers every key written: in the worker each write is also a changelog record."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def put(self, key: bytes, value: bytes) -> None:
        self.written.append(key)
        super().put(key, value)


class World:
    def __init__(self) -> None:
        self.kv = RecordingKV()
        self.store = VersionStore(self.kv)
        self.observer = Observer(self.store)
        self.q = RelationQueries(self.store)
        self.scans = 0

    def see(self, *resources: Resource, at) -> None:
        for resource in resources:
            self.scans += 1
            self.observer.observe(page([resource], at, scan=f"scan-{self.scans}"))

    def used_by_keys(self) -> list[bytes]:
        return [key for key, _ in self.kv.scan(b"r\x00")]

    def used_by_writes(self) -> list[bytes]:
        return [key for key in self.kv.written if key.startswith(b"r\x00")]


def _names(links) -> list[tuple[str, str, int]]:
    return [(link.relation, link.uid, link.depth) for link in links]


@pytest.fixture
def world() -> World:
    made = World()
    made.see(res("ec2.subnet", "subnet-1", vpc_id="vpc-1"), res("ec2.vpc", "vpc-1"),
             res("ec2.security-group", "sg-web", vpc_id="vpc-1", ingress=[]),
             res("ec2.volume", "vol-1", attachments=[{"instance_id": "i-1"}]), at=T0)
    made.see(instance(["sg-web"]), at=T0 + timedelta(minutes=1))
    return made


def test_what_an_instance_uses_its_edges_resolved_to_uids(world):
    found = world.q.related(uid("ec2.instance", "i-1"), T0 + timedelta(minutes=2))

    assert _names(found.uses) == [
        ("instance-profile", f"arn:aws:iam::{ACCOUNT}:instance-profile/web", 1),
        ("security-groups", uid("ec2.security-group", "sg-web"), 1),
        ("subnet", uid("ec2.subnet", "subnet-1"), 1),
        ("volumes", uid("ec2.volume", "vol-1"), 1),
        ("vpc", uid("ec2.vpc", "vpc-1"), 1)]
    profile = found.uses[0]
    assert profile.resource is None  # Elava does not collect instance profiles
    assert found.uses[1].resource["id"] == "sg-web"
    assert _names(found.used_by) == [("instances", uid("ec2.volume", "vol-1"), 1)]  # the volume says it too


def test_what_uses_a_security_group_travels_in_time(world):
    group, other = uid("ec2.security-group", "sg-web"), uid("ec2.security-group", "sg-admin")
    world.see(res("ec2.security-group", "sg-admin", vpc_id="vpc-1", ingress=[]), at=T0 + timedelta(minutes=3))
    world.see(instance(["sg-admin"]), at=T0 + timedelta(minutes=10))  # moved to another group

    before, after = T0 + timedelta(minutes=5), T0 + timedelta(minutes=15)
    assert _names(world.q.related(group, before).used_by) == [("security-groups", uid("ec2.instance", "i-1"), 1)]
    assert world.q.related(group, after).used_by == []
    assert _names(world.q.related(other, after).used_by) == [("security-groups", uid("ec2.instance", "i-1"), 1)]
    assert world.q.related(other, before).used_by == []
    assert [link.uid for link in world.q.related(uid("ec2.instance", "i-1"), before).uses
            if link.relation == "security-groups"] == [group]


def test_a_deleted_user_no_longer_uses_anything(world):
    subnet = uid("ec2.subnet", "subnet-1")
    world.observer.close_scan(marker(shard(instance(["sg-web"])), [], T0 + timedelta(minutes=20), scan="close"))

    assert world.q.related(subnet, T0 + timedelta(minutes=5)).used_by != []
    assert world.q.related(subnet, T0 + timedelta(minutes=30)).used_by == []


def test_depth_follows_each_direction_on_its_own(world):
    world.see(res("elb.load-balancer", "legacy", instances=["i-1"], subnets=["subnet-1"]), at=T0 + timedelta(minutes=2))
    at = T0 + timedelta(minutes=3)

    one = world.q.related(uid("elb.load-balancer", "legacy"), at, depth=1)
    two = world.q.related(uid("elb.load-balancer", "legacy"), at, depth=2)

    assert {link.uid for link in one.uses} == {uid("ec2.instance", "i-1"), uid("ec2.subnet", "subnet-1")}
    deeper = {(link.relation, link.uid, link.via) for link in two.uses if link.depth == 2}
    assert ("security-groups", uid("ec2.security-group", "sg-web"), uid("ec2.instance", "i-1")) in deeper
    # the VPC both the instance and the subnet use: listed once
    assert [link.uid for link in two.uses].count(uid("ec2.vpc", "vpc-1")) == 1
    assert all(link.uid != uid("elb.load-balancer", "legacy") for link in two.uses)
    # what uses the subnet (the instance, the balancer) is not what the balancer uses
    users = {(link.relation, link.uid) for link in world.q.related(uid("ec2.subnet", "subnet-1"), at).used_by}
    assert users == {("subnets", uid("elb.load-balancer", "legacy")), ("subnet", uid("ec2.instance", "i-1"))}


def test_an_unchanged_edge_writes_no_new_used_by_entry(world):
    written = len(world.used_by_writes())
    world.see(instance(["sg-web"], monitoring="enabled"), at=T0 + timedelta(minutes=5))  # a new version, same edges

    assert world.store.head(uid("ec2.instance", "i-1")).version == 2
    assert len(world.used_by_writes()) == written
    world.see(instance(["sg-web", "sg-admin"], monitoring="enabled"), at=T0 + timedelta(minutes=6))
    assert world.used_by_writes()[written:] == [
        b"r\x00" + uid("ec2.security-group", "sg-admin").encode() + b"\x00" + uid("ec2.instance", "i-1").encode()]


def test_retention_drops_used_by_entries_only_with_the_last_version_that_had_the_edge(world):
    instance_uid, old_group = uid("ec2.instance", "i-1"), uid("ec2.security-group", "sg-web")
    world.see(instance(["sg-admin"]), at=T0 + timedelta(days=1))
    world.see(instance(["sg-admin"], monitoring="enabled"), at=T0 + timedelta(days=2))
    assert instance_uid in set(world.store.users_of(old_group))

    enforce_retention(world.store, timedelta(hours=1), now=T0 + timedelta(days=1, hours=2))

    assert instance_uid not in set(world.store.users_of(old_group))  # v1 went, and only it had the edge
    assert instance_uid in set(world.store.users_of(uid("ec2.security-group", "sg-admin")))  # v2 went, v3 has it
    assert instance_uid in set(world.store.users_of(uid("ec2.subnet", "subnet-1")))


def test_the_query_api_answers_related(world):
    q = TemporalQueries(world.store)
    status, body = answer("/v1/related", q, {"uid": uid("ec2.subnet", "subnet-1"), "depth": "2",
                                             "at": (T0 + timedelta(minutes=2)).isoformat()})
    assert status == 200 and body["type"] == "ec2.subnet" and body["observed"] is True
    assert [(u["relation"], u["uid"], u["type"]) for u in body["uses"]] == [("vpc", uid("ec2.vpc", "vpc-1"), "ec2.vpc")]
    assert [(u["relation"], u["depth"]) for u in body["used_by"]] == [("subnet", 1), ("instances", 2)]
    assert answer("/v1/related", q, {"uid": "x", "depth": "9"})[0] == 400
    assert answer("/v1/related", q, {"uid": "x", "deep": "1"})[0] == 400


def test_a_change_to_no_field_an_edge_reads_keeps_the_edges_without_resolving_them(world, monkeypatch):
    import streams.observe

    resolved = []
    monkeypatch.setattr(streams.observe, "edges_of", lambda stored: resolved.append(stored) or {})
    world.see(instance(["sg-web"], monitoring="enabled"), at=T0 + timedelta(minutes=5))  # no edge reads it
    kept = world.store.head(uid("ec2.instance", "i-1"))
    assert (kept.version, resolved) == (2, [])
    assert kept.edges["security-groups"] == [uid("ec2.security-group", "sg-web")]
    world.see(instance(["sg-admin"], monitoring="enabled"), at=T0 + timedelta(minutes=6))  # an edge reads it
    assert len(resolved) == 1


def test_the_fields_edges_read_are_their_paths_first_names():
    from elava.catalogue.relations import edge_fields

    assert {"security_groups", "subnet_id", "vpc_id"} <= edge_fields("ec2.instance")
    assert "ingress" in edge_fields("ec2.security-group")  # a filter over its rules
    assert {"attachments", "snapshot_id"} <= edge_fields("ec2.volume")
    assert edge_fields("no.such-type") == frozenset()
