"""What a change of kafka.shard_buckets costs `elava scan` once: moving every membership.

    python -m tests.bench.bench_layout [--members 200000 --from-buckets 16 --to-buckets 10]

Fills a local RocksDB store with ``--members`` shard memberships built with
``--from-buckets``, then times ``align_layout`` to ``--to-buckets`` (the one-off
migration) and again (the check every later scan pays). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from elava.sharding import shard_of
from streams.layout import align_layout
from streams.store.kv import RocksKV
from streams.store.versioned import ShardLayout, VersionStore, member_key

ACCOUNT, REGION, TYPE = "123456789012", "us-east-1", "ec2.security-group"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--from-buckets", type=int, default=16)
    parser.add_argument("--to-buckets", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        kv = RocksKV(Path(folder))
        store = VersionStore(kv)
        uids = (f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-{n:08d}" for n in range(args.members))
        kv.put_many([(member_key(shard_of(uid, ACCOUNT, REGION, TYPE, args.from_buckets), uid), b"")
                     for uid in uids])
        store.record_shard_layout(ShardLayout(args.from_buckets))
        started = time.perf_counter()
        moved = align_layout(store, args.to_buckets)
        migration = time.perf_counter() - started
        started = time.perf_counter()
        align_layout(store, args.to_buckets)
        check = time.perf_counter() - started
        kv.close()
    print(json.dumps({"members": args.members, "moved": moved, "migration_s": round(migration, 2),
                      "us_per_member": round(migration / args.members * 1e6, 1),
                      "unchanged_check_us": round(check * 1e6)}))


if __name__ == "__main__":
    main()
