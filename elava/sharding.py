"""Shard keys: where a resource's observations, trail events and versions meet.

A shard key is ``account/region/type/bucket`` with ``bucket = hash(uid) % N``. The
region is the scan scope (``global`` for services listed once per account, e.g. S3),
so the key can be computed both by the collector and by the CloudTrail reader.
"""

from __future__ import annotations

from elava.events import stable_hash

GLOBAL_REGION = "global"


def bucket_of(uid: str, buckets: int) -> int:
    return stable_hash(uid) % buckets


def shard_key(account: str, region: str, type_name: str, bucket: int) -> str:
    return f"{account}/{region}/{type_name}/{bucket}"


def shard_of(uid: str, account: str, region: str, type_name: str, buckets: int) -> str:
    return shard_key(account, region, type_name, bucket_of(uid, buckets))


def all_shards(account: str, region: str, type_name: str, buckets: int) -> list[str]:
    return [shard_key(account, region, type_name, b) for b in range(buckets)]


def split_shard(shard: str) -> tuple[str, int]:
    """``account/region/type`` and the bucket of a shard key (ValueError if it is not one)."""
    scope, _, bucket = shard.rpartition("/")
    if not scope or not bucket.isdigit():
        raise ValueError(f"not a shard key: {shard!r}")
    return scope, int(bucket)


def rebucket(shard: str, uid: str, buckets: int) -> str:
    """The shard of ``uid`` in the same account/region/type under ``buckets`` buckets."""
    scope, _ = split_shard(shard)
    return f"{scope}/{bucket_of(uid, buckets)}"
