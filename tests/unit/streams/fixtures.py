"""Builders for core tests: resources, pages and markers without any AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from elava.events import Observation, Resource, ScanMarker, digest
from elava.sharding import shard_of
from streams.store.kv import MemoryKV

ACCOUNT, REGION, TYPE = "111122223333", "eu-west-1", "ec2.security-group"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BUCKETS = 4


def sg(ident: str, tags: dict | None = None, ingress: list | None = None) -> Resource:
    return Resource(
        uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{ident}", type=TYPE, id=ident,
        account=ACCOUNT, region=REGION, name=ident, tags=tags or {},
        attributes={"ingress": ingress or [], "vpc_id": "vpc-1"},
    )


def shard(resource: Resource) -> str:
    return shard_of(resource.uid, ACCOUNT, REGION, TYPE, BUCKETS)


def page(resources: list[Resource], at: datetime, scan: str = "scan-1", number: int = 0) -> Observation:
    shards = {shard(r) for r in resources}
    assert len(shards) == 1, "a page holds one shard"
    return Observation(scan_id=scan, account=ACCOUNT, region=REGION, type=TYPE, shard=shards.pop(),
                       page=number, observed_at=at, resources=resources)


def marker(shard_key: str, seen: list[Resource], started: datetime, status: str = "ok",
           scan: str = "scan-1") -> ScanMarker:
    ids = sorted(r.id for r in seen) if status == "ok" else []
    return ScanMarker(scan_id=scan, account=ACCOUNT, region=REGION, type=TYPE, shard=shard_key,
                      status=status, error_class=None if status == "ok" else "throttled",
                      count=len(ids), ids_digest=digest(ids), ids=ids, started_at=started,
                      finished_at=started + timedelta(seconds=5))


class BatchCountingKV(MemoryKV):
    """A MemoryKV that counts the write batches it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def write(self, items):
        self.batches += 1
        super().write(items)
