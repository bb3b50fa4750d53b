"""What the waste rules' metrics cost: CloudWatch calls per resource for a mixed estate.

    python -m tests.bench.bench_waste_metrics [--resources 20000] [--moto 3000]

Builds a mixed estate (the shares below: instances, volumes, snapshots, images, load
balancers, NAT gateways, RDS, Lambda, buckets, repositories and types without metrics)
and counts the GetMetricData calls one metrics interval makes for it, from the plan
the collector follows (queries per type's declaration, 500 queries or 100,800
datapoints a call). ``--moto`` runs the real metrics part against moto's CloudWatch
for an estate of that size and reports the calls it actually made (they must equal
the plan's). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

from collectors.metrics.plan import batches, queries_for
from elava.catalogue import registry
from elava.events import Resource

ACCOUNT, REGION = "123456789012", "us-east-1"
WINDOW = timedelta(days=14)
# Shares of a mixed estate (by count); what has no metrics still counts as a resource.
MIX = {
    ("ec2.instance", "running"): 0.20, ("ec2.instance", "stopped"): 0.03, ("ec2.volume", None): 0.18,
    ("ec2.snapshot", None): 0.15, ("ec2.image", None): 0.03, ("elbv2.load-balancer", "application"): 0.02,
    ("elbv2.load-balancer", "network"): 0.01, ("ec2.nat-gateway", None): 0.01, ("rds.instance", None): 0.02,
    ("lambda.function", None): 0.10, ("s3.bucket", None): 0.05, ("ecr.repository", None): 0.02,
    ("ec2.security-group", None): 0.12, ("iam.role", None): 0.06,
}
STATE = {"ec2.instance": "state", "elbv2.load-balancer": "type"}


def estate(size: int) -> list[Resource]:
    resources = []
    for (type_name, variant), share in MIX.items():
        for n in range(round(size * share)):
            rid = f"{type_name.split('.')[-1]}-{variant or 'x'}-{n:07d}"
            attributes = {"state": "available", "status": "available"}
            if variant is not None:
                attributes[STATE[type_name]] = variant
            uid = registry.get(type_name).uid_for(rid, account=ACCOUNT, region=REGION, partition="aws")
            resources.append(Resource(uid=uid, type=type_name, id=rid, account=ACCOUNT, region=REGION,
                                      attributes=attributes))
    return resources


def planned(resources: list[Resource]) -> dict:
    queries = queries_for(resources)
    calls = len(batches(queries, WINDOW))
    return {"resources": len(resources), "queries": len(queries), "calls": calls,
            "calls_per_resource": round(calls / len(resources), 5)}


async def on_moto(resources: list[Resource]) -> dict:
    import aioboto3
    from moto.server import ThreadedMotoServer

    from collectors.metrics.service import fetch_for, measure_region
    from collectors.sink import ListSink

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        fetch = fetch_for(ACCOUNT, REGION, datetime.now(UTC), WINDOW, 16)
        report = await measure_region(aioboto3.Session(region_name=REGION), fetch, [(r, "shard") for r in resources],
                                      set(MIX_TYPES), ListSink(), endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
    return {"resources": len(resources), "queries": report.queries, "calls": report.calls,
            "calls_per_resource": round(report.calls / len(resources), 5)}


MIX_TYPES = {type_name for type_name, _ in MIX}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--moto", type=int, default=3_000, help="also run the metrics part on moto (0: no)")
    args = parser.parse_args()
    result = {"planned": planned(estate(args.resources)), "mix": {f"{t}{'/' + v if v else ''}": s
                                                                  for (t, v), s in MIX.items()}}
    if args.moto:
        small = estate(args.moto)
        result["moto"] = asyncio.run(on_moto(small))
        result["moto_planned"] = planned(small)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
