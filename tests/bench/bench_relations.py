"""Benchmark of "what uses this" over a partitioned store: the fan-out the worker does.

Run: ``python -m tests.bench.bench_relations [--instances 100000] [--partitions 1 8 32]``.
Prints one JSON object on stdout (progress on stderr). Not a test: nothing asserts.

Instances (each using one of ``--subnets`` subnets, two of ``--groups`` security
groups and a volume) are spread over ``P`` RocksDB partitions by uid, as the worker's
Faust table spreads them, and written through the store's real write path
(`VersionStore.append`). The reads go through the worker's own read view
(`streams.drivers.worker.faust_kv.WorkerReadKV`) over those partitions, so a "used by" query costs
what it costs a worker: one prefix seek per partition, then one version read per user.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from elava.catalogue.relations import edges_of
from elava.events import Resource
from streams.drivers.worker.faust_kv import WorkerReadKV
from streams.store.kv import RocksKV
from streams.store.records import Version
from streams.store.relations import RelationQueries
from streams.store.versioned import VersionStore, to_micros

ACCOUNT, REGION = "111122223333", "eu-west-1"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def instance(n: int, subnets: int, groups: int) -> Resource:
    attributes = {"subnet_id": f"subnet-{n % subnets:04}", "vpc_id": "vpc-1", "volumes": [f"vol-{n:07}"],
                  "security_groups": sorted({f"sg-{n % groups:04}", f"sg-{(n * 7) % groups:04}"})}
    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-{n:07}", type="ec2.instance", id=f"i-{n:07}",
                    account=ACCOUNT, region=REGION, attributes=attributes)


def subnet_uid(n: int) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-{n:04}"


def build(folder: Path, partitions: int, args: argparse.Namespace) -> tuple[list[RocksKV], dict]:
    kvs = [RocksKV(folder / f"p{p}") for p in range(partitions)]
    stores = [VersionStore(kv) for kv in kvs]
    wall, records = time.perf_counter(), 0
    for n in range(args.instances):
        resource = instance(n, args.subnets, args.groups)
        stored = resource.model_dump(mode="json")
        version = Version(uid=resource.uid, version=1, kind="created", valid_from=to_micros(T0), hash=str(n),
                          cause="bench", shard=f"{ACCOUNT}/{REGION}/ec2.instance/0", resource=stored,
                          edges=edges_of(stored))
        records += 4 + sum(len(t) for t in version.edges.values())
        stores[zlib.crc32(resource.uid.encode()) % partitions].append(version)
    return kvs, {"build_s": round(time.perf_counter() - wall, 1), "records_per_instance": records / args.instances}


def timed(call, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def measure(kvs: list[RocksKV], args: argparse.Namespace) -> dict:
    view = WorkerReadKV(SimpleNamespace(data=SimpleNamespace(_dbs={i: kv._db for i, kv in enumerate(kvs)})))
    q = RelationQueries(VersionStore(view))
    t = to_micros(datetime.now(UTC))
    users = args.instances // args.subnets
    nobody = "arn:aws:ec2:eu-west-1:111122223333:subnet/subnet-none"
    return {
        "used_by_subnet_us": round(timed(lambda: list(q.used_by_at(subnet_uid(1), t)), args.repeat)),
        "users_per_subnet": users,
        "used_by_nothing_us": round(timed(lambda: list(q.used_by_at(nobody, t)), args.repeat * 10), 1),
        "uses_instance_us": round(timed(lambda: list(q.uses_at(instance(5, 1, 1).uid, t)), args.repeat * 10), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--subnets", type=int, default=200)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--partitions", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    results = {"instances": args.instances, "subnets": args.subnets, "groups": args.groups, "runs": []}
    for partitions in args.partitions:
        folder = Path(tempfile.mkdtemp(prefix="elava-bench-relations-"))
        try:
            log(f"{partitions} partitions: building {args.instances} instances")
            kvs, built = build(folder, partitions, args)
            results["runs"].append({"partitions": partitions, **built, **measure(kvs, args)})
            for kv in kvs:
                kv.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
