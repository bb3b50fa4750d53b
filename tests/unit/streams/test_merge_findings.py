"""Drift, patterns and relationships asked of several stores, each holding some shards, give
the answer one store holding everything gives: drift merged by time, patterns across
resources found on the workers' shares, the relation walk asked of every store a level at
a time (streams/store/merge.py, streams/store/relation_walk.py)."""

from __future__ import annotations

import asyncio
import zlib
from datetime import timedelta

import pytest

from elava.catalogue import registry
from elava.events import Actor, Observation, Resource, ScanMarker, TouchedResource, TrailEvent, digest
from elava.settings import AnalyzerSettings, PatternSettings
from elava.sharding import shard_of
from streams.process import PartitionProcessor
from streams.store.api import BadRequest, answer, answer_found, related_request
from streams.store.kv import MemoryKV
from streams.store.merge import LISTS, merge
from streams.store.queries import TemporalQueries
from streams.store.relation_walk import look, merge_looked, related_over
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0

STORES, BUCKETS = 3, 8
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
OFFICE = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "10.0.0.0/8"}
BOB = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/bob", name="bob", kind="human", via="cli")
ANALYZER = AnalyzerSettings(patterns=PatternSettings(burst_changes=4, burst_window=timedelta(minutes=5)))
PROFILE = f"arn:aws:iam::{ACCOUNT}:instance-profile/web"


def res(type_name: str, rid: str, name: str | None = None, tags: dict | None = None, **attributes) -> Resource:
    uid = registry.get(type_name).uid_for(rid, account=ACCOUNT, region=REGION, partition="aws")
    return Resource(uid=uid, type=type_name, id=rid, account=ACCOUNT, region=REGION, name=name or rid,
                    tags=tags or {}, attributes=attributes)


def group(rid: str, ingress: list | None = None, tags: dict | None = None) -> Resource:
    return res("ec2.security-group", rid, tags=tags, vpc_id="vpc-1", ingress=ingress or [])


def instance(rid: str, subnet: str, groups: list[str]) -> Resource:
    return res("ec2.instance", rid, name="web", subnet_id=subnet, vpc_id="vpc-1", security_groups=groups,
               iam_instance_profile=PROFILE, state="running")


class Estate:
    """One store with everything, and three holding the shards each would hold as a worker."""

    def __init__(self) -> None:
        self.whole = PartitionProcessor(VersionStore(MemoryKV()), ANALYZER.drift, ANALYZER.patterns)
        self.parts = [PartitionProcessor(VersionStore(MemoryKV()), ANALYZER.drift, ANALYZER.patterns)
                      for _ in range(STORES)]
        self.scans = 0

    @staticmethod
    def shard(resource: Resource) -> str:
        return shard_of(resource.uid, ACCOUNT, REGION, resource.type, BUCKETS)

    def part_of(self, resource: Resource) -> int:
        return zlib.crc32(self.shard(resource).encode()) % STORES

    def feed(self, event, resource: Resource) -> None:
        for processor in (self.whole, self.parts[self.part_of(resource)]):
            processor.process(event)

    def see(self, resource: Resource, at) -> None:
        self.scans += 1
        self.feed(Observation(scan_id=f"s{self.scans}", account=ACCOUNT, region=REGION, type=resource.type,
                              shard=self.shard(resource), page=0, observed_at=at, resources=[resource]), resource)

    def gone(self, resource: Resource, at) -> None:
        """A complete scan of its shard without it (nothing else of its type lives there here)."""
        self.scans += 1
        self.feed(ScanMarker(scan_id=f"s{self.scans}", account=ACCOUNT, region=REGION, type=resource.type,
                             shard=self.shard(resource), status="ok", count=0, ids_digest=digest([]), ids=[],
                             started_at=at, finished_at=at + MINUTE), resource)

    def changed_by_bob(self, resource: Resource, at) -> None:
        touched = TouchedResource(uid=resource.uid, type=resource.type, id=resource.id)
        self.feed(TrailEvent(trail_event_id=f"ct-{resource.id}", event_name="AuthorizeSecurityGroupIngress",
                             event_source="ec2.amazonaws.com", event_time=at - timedelta(seconds=30), account=ACCOUNT,
                             region=REGION, actor=BOB, resource=touched), resource)
        self.see(resource, at)


def built() -> Estate:
    """Groups drifting (one Terraform's, opened to the world by hand), four changed by bob in
    four minutes (a burst), an instance named web re-created with a new id in another store,
    a subnet and a VPC used from every store."""
    estate = Estate()
    groups = [f"sg-{n}" for n in range(6)]
    estate.see(res("ec2.vpc", "vpc-1"), T0)
    estate.see(res("ec2.subnet", "subnet-1", vpc_id="vpc-1"), T0)
    estate.see(group("sg-0", tags={"ManagedBy": "terraform"}), T0)
    for rid in groups[1:]:
        estate.see(group(rid), T0)
    old, new = instance("i-0ld", "subnet-1", ["sg-1"]), instance("i-n3w", "subnet-1", ["sg-2", "sg-3"])
    estate.see(old, T0 + 10 * MINUTE)
    estate.see(group("sg-0", [SSH], {"ManagedBy": "terraform"}), T0 + HOUR)
    estate.see(new, T0 + HOUR + 5 * MINUTE)
    estate.gone(old, T0 + HOUR + 20 * MINUTE)
    for n, rid in enumerate(reversed(groups[2:])):  # not in uid order: the merge must sort by time
        estate.changed_by_bob(group(rid, [OFFICE]), T0 + 2 * HOUR + n * MINUTE)
    assert estate.part_of(old) != estate.part_of(new), "the re-created instance must span stores"
    assert len({estate.part_of(group(rid)) for rid in groups}) >= 2
    return estate


@pytest.fixture(scope="module")
def stores():
    estate = built()
    return TemporalQueries(estate.whole.store), [TemporalQueries(p.store) for p in estate.parts]


def group_answer(path: str, params: dict, parts: list[TemporalQueries]):
    """What the workers answer together (streams/drivers/worker/cluster.py, without the HTTP between them)."""
    if path == "/v1/related":
        try:
            ref, t, depth = related_request(params)
        except BadRequest as exc:
            return 400, {"error": str(exc)}

        async def looked(lookup):
            return merge_looked(look(part.store, lookup) for part in parts)

        return asyncio.run(related_over(ref, t, depth, looked))
    return merge(path, params, [answer_found(path, p, params, ANALYZER, part=True) for p in parts], ANALYZER)


WINDOW = {"since": T0.isoformat(), "until": (T0 + 3 * HOUR).isoformat()}
LATER = (T0 + 3 * HOUR).isoformat()
QUERIES = [
    ("/v1/drift", WINDOW), ("/v1/drift", {**WINDOW, "severity": "high"}), ("/v1/drift", {**WINDOW, "limit": "2"}),
    ("/v1/drift", {**WINDOW, "type": "s3.*"}), ("/v1/drift", {**WINDOW, "severity": "dire"}),
    ("/v1/patterns", WINDOW), ("/v1/patterns", {**WINDOW, "pattern": "recreated"}),
    ("/v1/patterns", {**WINDOW, "pattern": "burst"}), ("/v1/patterns", {**WINDOW, "limit": "1"}),
    ("/v1/related", {"uid": "vpc-1", "at": LATER}), ("/v1/related", {"uid": "vpc-1", "at": LATER, "depth": "3"}),
    ("/v1/related", {"uid": "subnet-1", "at": (T0 + 30 * MINUTE).isoformat(), "depth": "2"}),
    ("/v1/related", {"uid": "i-n3w", "at": LATER, "depth": "2"}), ("/v1/related", {"uid": PROFILE, "at": LATER}),
    ("/v1/related", {"uid": "sg-2", "at": LATER, "depth": "5"}),
    ("/v1/related", {"uid": "nowhere"}), ("/v1/related", {"uid": "vpc-1", "depth": "9"}),
]


@pytest.mark.parametrize(("path", "params"), QUERIES)
def test_the_group_answers_as_one_store_holding_everything(stores, path, params):
    whole, parts = stores
    together = group_answer(path, params, parts)
    assert together == answer(path, whole, params, ANALYZER)


def test_the_answers_compared_hold_what_spans_stores(stores):
    whole, _ = stores
    _, found = answer("/v1/patterns", whole, WINDOW, ANALYZER)
    assert {p["pattern"] for p in found} >= {"recreated", "burst"}
    _, drift = answer("/v1/drift", whole, WINDOW, ANALYZER)
    assert ("critical", True) in {(d["severity"], d["out_of_band"]) for d in drift} and len(drift) >= 4
    _, related = answer("/v1/related", whole, {"uid": "vpc-1", "at": LATER, "depth": "3"})
    assert {u["type"] for u in related["used_by"]} == {"ec2.subnet", "ec2.security-group", "ec2.instance"}
    _, profile = answer("/v1/related", whole, {"uid": PROFILE, "at": LATER})
    assert profile["observed"] is False and [u["id"] for u in profile["used_by"]] == ["i-n3w"]


def test_one_store_alone_misses_what_spans_stores(stores):
    # Not vacuous: no part alone gives the group's answer.
    whole, parts = stores
    for path, params in (("/v1/patterns", WINDOW), ("/v1/related", {"uid": "vpc-1", "at": LATER, "depth": "2"}),
                         ("/v1/drift", WINDOW)):
        expected = answer(path, whole, params, ANALYZER)
        assert all(answer(path, part, params, ANALYZER) != expected for part in parts), path


def test_drift_is_a_list_the_merge_knows_how_to_sort():
    assert "/v1/drift" in LISTS
