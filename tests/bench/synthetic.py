"""Synthetic AWS inventory for the store benchmark: ~1 KB resources that change daily.

Deterministic (seeded): the same arguments give the same resources and versions.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

from elava.events import Observation, Resource
from elava.sharding import shard_of

ACCOUNTS = ["111122223333", "222233334444", "333344445555", "444455556666"]
REGIONS = ["eu-west-1", "us-east-1"]
TYPES = ["ec2.instance", "ec2.volume", "ec2.security-group"]
TEAMS = ["payments", "search", "platform", "data", "identity", "growth"]
BUCKETS = 4


def _instance_attributes(rnd: random.Random, n: int) -> dict:
    return {
        "instance_type": rnd.choice(["t3.micro", "t3.large", "m6i.xlarge", "c7g.2xlarge"]),
        "state": "running", "image_id": f"ami-{n:017x}", "vpc_id": f"vpc-{n % 40:08x}",
        "subnet_id": f"subnet-{n % 160:08x}", "private_ip": f"10.{n % 250}.{(n // 250) % 250}.{n % 200 + 10}",
        "public_ip": None, "launch_time": "2026-10-01T08:00:00+00:00", "key_name": "ops-2026",
        "iam_instance_profile": f"arn:aws:iam::111122223333:instance-profile/app-{n % 30}",
        "security_groups": [f"sg-{(n + k) % 900:08x}" for k in range(3)],
        "block_devices": [{"device": "/dev/xvda", "volume_id": f"vol-{n:017x}", "delete_on_termination": True}],
        "monitoring": "disabled", "ebs_optimized": True, "architecture": "x86_64",
        "platform_details": "Linux/UNIX", "metadata_options": {"http_tokens": "required", "hop_limit": 2},
    }


def _volume_attributes(rnd: random.Random, n: int) -> dict:
    return {
        "size_gib": rnd.choice([8, 20, 100, 500]), "volume_type": rnd.choice(["gp3", "gp2", "io2"]),
        "iops": 3000, "throughput": 125, "state": "in-use", "encrypted": True,
        "kms_key_id": f"arn:aws:kms:eu-west-1:111122223333:key/{n % 12:08x}-0000-4000-8000-000000000000",
        "snapshot_id": f"snap-{n:017x}", "create_time": "2026-09-14T10:00:00+00:00",
        "availability_zone": "eu-west-1a", "multi_attach": False,
        "attachments": [{"instance_id": f"i-{n:017x}", "device": "/dev/xvda", "state": "attached",
                         "attach_time": "2026-09-14T10:01:00+00:00", "delete_on_termination": True}],
    }


def _group_attributes(rnd: random.Random, n: int) -> dict:
    rules = [{"protocol": "tcp", "from_port": p, "to_port": p, "cidr": f"10.{n % 200}.0.0/16",
              "description": f"service port {p}"} for p in rnd.sample([80, 443, 5432, 6379, 8080, 9092], 4)]
    return {"vpc_id": f"vpc-{n % 40:08x}", "description": f"security group for workload {n}",
            "ingress": rules, "egress": [{"protocol": "-1", "cidr": "0.0.0.0/0"}]}


ATTRIBUTES = {"ec2.instance": _instance_attributes, "ec2.volume": _volume_attributes,
              "ec2.security-group": _group_attributes}
PREFIX = {"ec2.instance": "instance/i-", "ec2.volume": "volume/vol-", "ec2.security-group": "security-group/sg-"}


def base_resources(count: int, seed: int = 7) -> list[Resource]:
    """``count`` resources spread over accounts, regions and types."""
    rnd = random.Random(seed)
    resources = []
    for n in range(count):
        account, region = ACCOUNTS[n % len(ACCOUNTS)], REGIONS[(n // 4) % len(REGIONS)]
        type_name = TYPES[(n // 8) % len(TYPES)]
        ident = PREFIX[type_name].split("/")[1] + f"{n:017x}"
        service = type_name.split(".")[0]
        resources.append(Resource(
            uid=f"arn:aws:{service}:{region}:{account}:{PREFIX[type_name].split('/')[0]}/{ident}",
            type=type_name, id=ident, account=account, region=region, name=f"{type_name.split('.')[1]}-{n}",
            tags={"owner": f"user{n % 97}@example.com", "team": TEAMS[n % len(TEAMS)],
                  "env": "prod" if n % 3 else "staging", "cost-center": f"cc-{n % 41:04d}", "revision": "0"},
            attributes=ATTRIBUTES[type_name](rnd, n),
        ))
    return resources


def revised(resource: Resource, revision: int) -> Resource:
    """The resource after its ``revision``-th change: a tag and one attribute move."""
    attributes = {**resource.attributes, "revision_note": f"change {revision} by deploy pipeline"}
    fields = {**resource.__dict__, "tags": {**resource.tags, "revision": str(revision)}, "attributes": attributes}
    return Resource.model_construct(**fields)  # valid by construction: skip validation, it is not what we measure


def shard_for(resource: Resource) -> str:
    return shard_of(resource.uid, resource.account, resource.region, resource.type, BUCKETS)


def pages(resources: list[Resource], at: datetime, scan_id: str, size: int = 500) -> list[Observation]:
    """Pages of at most ``size`` resources, one shard per page, as a collector publishes them."""
    by_shard: dict[str, list[Resource]] = defaultdict(list)
    for resource in resources:
        by_shard[shard_for(resource)].append(resource)
    result = []
    for shard, members in sorted(by_shard.items()):
        account, region, type_name, _ = shard.split("/")
        for number, start in enumerate(range(0, len(members), size)):
            result.append(Observation(
                scan_id=scan_id, account=account, region=region, type=type_name, shard=shard, page=number,
                observed_at=at + timedelta(seconds=number), resources=members[start:start + size]))
    return result
