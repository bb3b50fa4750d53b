"""The pipeline benchmark's input: rounds of scans of a synthetic inventory, as bytes.

Resources are ~1 KB EC2 instances and security groups spread over accounts (of
uneven size), regions and types. Each round is one scan of every account/region/type,
grouped into pages and closed by per-shard ok markers by the collector's own
``ShardBatcher`` with the settings' ``shard_buckets`` and ``page_size``, and encoded
exactly as ``KafkaSink`` publishes it (value, shard key, CloudEvents headers).

Round 1 sees every resource for the first time; every later round sees all of them
again with ``modified`` of them changed (a different slice each round).
Deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from collectors.aws.batching import ScanScope, ShardBatcher, page_budget
from collectors.publish import SOURCE
from elava.events import Observation, Resource, ScanMarker, cloudevent_headers, digest
from elava.settings import KafkaSettings

# Share of the inventory per account (uneven, as real organisations are).
ACCOUNTS = {"111122223333": 0.5, "222233334444": 0.3, "333344445555": 0.2}
REGIONS = ["eu-west-1", "us-east-1"]
TYPES = ["ec2.instance", "ec2.security-group"]
TEAMS = ["payments", "search", "platform", "data", "identity", "growth"]
# Recent: the worker enforces storage.retention (30 days) from the wall clock, and older
# rounds would lose their versions in the middle of a run. Within the fleet stage's lookback
# (a day) too, whatever the time of day: a day back, the rounds' changes fell out of it or not
# by the minute of the hour the benchmark ran, and so did the stage's work.
T0 = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)
ROUND_EVERY = timedelta(hours=1)


@dataclass
class Message:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    observations: int  # resources in it (0 for a marker)


@dataclass
class Round:
    number: int
    messages: list[Message] = field(default_factory=list)
    objects: list[Observation | ScanMarker] = field(default_factory=list)
    cause_ids: set[str] = field(default_factory=set)  # event ids of its pages
    expected_created: int = 0
    expected_modified: int = 0

    @property
    def observations(self) -> int:
        return sum(m.observations for m in self.messages)

    @property
    def pages(self) -> int:
        return sum(1 for m in self.messages if m.observations)

    @property
    def markers(self) -> int:
        return len(self.messages) - self.pages

    @property
    def bytes(self) -> int:
        return sum(len(m.value) for m in self.messages)


def _instance(rnd: random.Random, n: int, account: str, region: str) -> dict:
    return {
        "instance_type": rnd.choice(["t3.micro", "t3.large", "m6i.xlarge", "c7g.2xlarge"]),
        "state": "running", "image_id": f"ami-{n:017x}", "vpc_id": f"vpc-{n % 40:08x}",
        "subnet_id": f"subnet-{n % 160:08x}", "private_ip": f"10.{n % 250}.{(n // 250) % 250}.{n % 200 + 10}",
        "public_ip": None, "launch_time": "2026-10-01T08:00:00+00:00", "key_name": "ops-2026",
        "iam_instance_profile": f"arn:aws:iam::{account}:instance-profile/app-{n % 30}",
        "security_groups": [f"sg-{(n + k) % 900:017x}" for k in range(3)],
        "block_devices": [{"device": "/dev/xvda", "volume_id": f"vol-{n:017x}", "delete_on_termination": True}],
        "monitoring": "disabled", "ebs_optimized": True, "architecture": "x86_64",
        "platform_details": "Linux/UNIX", "placement": {"availability_zone": f"{region}a", "tenancy": "default"},
        "metadata_options": {"http_tokens": "required", "hop_limit": 2, "http_endpoint": "enabled"},
    }


def _group(rnd: random.Random, n: int, account: str, region: str) -> dict:
    ingress = [{"protocol": "tcp", "from_port": p, "to_port": p, "cidr": f"10.{n % 200}.0.0/16",
                "description": f"service port {p}"} for p in rnd.sample([80, 443, 5432, 6379, 8080, 9092], 4)]
    ingress.append({"protocol": "tcp", "from_port": 443, "to_port": 443, "source_group": f"sg-{n % 700:017x}",
                    "source_account": account, "description": "from the load balancer"})
    return {"vpc_id": f"vpc-{n % 40:08x}", "description": f"security group for workload {n} in {region}",
            "ingress": ingress, "egress": [{"protocol": "-1", "cidr": "0.0.0.0/0", "description": "all out"}]}


KINDS = {"ec2.instance": ("instance", "i-", _instance), "ec2.security-group": ("security-group", "sg-", _group)}


def _scope_of(n: int) -> tuple[str, str, str]:
    """Account by weight, then region and type round-robin (deterministic in ``n``)."""
    point, acc = (n * 7919 % 1000) / 1000, 0.0
    account = next(iter(ACCOUNTS))
    for candidate, weight in ACCOUNTS.items():
        acc += weight
        if point < acc:
            account = candidate
            break
    return account, REGIONS[n % len(REGIONS)], TYPES[(n // len(REGIONS)) % len(TYPES)]


def inventory(count: int, seed: int = 11) -> list[Resource]:
    rnd = random.Random(seed)
    resources = []
    for n in range(count):
        account, region, type_name = _scope_of(n)
        noun, prefix, attributes = KINDS[type_name]
        ident = f"{prefix}{n:017x}"
        resources.append(Resource(
            uid=f"arn:aws:ec2:{region}:{account}:{noun}/{ident}", type=type_name, id=ident,
            account=account, region=region, name=f"{noun}-{n}",
            tags={"Name": f"{noun}-{n}", "owner": f"user{n % 97}@example.com", "team": TEAMS[n % len(TEAMS)],
                  "env": "prod" if n % 3 else "staging", "cost-center": f"cc-{n % 41:04d}", "revision": "0"},
            attributes=attributes(rnd, n, account, region),
        ))
    return resources


def revised(resource: Resource, revision: int) -> Resource:
    """The resource after a deploy: a tag and one attribute move."""
    return resource.model_copy(update={
        "tags": {**resource.tags, "revision": str(revision)},
        "attributes": {**resource.attributes, "revision_note": f"change {revision} by the deploy pipeline"},
    })


class _Encoder:
    """A ScanSink that encodes what it is given exactly as KafkaSink publishes it."""

    def __init__(self, round_: Round, keep_objects: bool) -> None:
        self.round = round_
        self.keep_objects = keep_objects

    async def page(self, obs: Observation) -> None:
        self._add(obs, len(obs.resources))
        self.round.cause_ids.add(obs.event_id)

    async def marker(self, marker: ScanMarker) -> None:
        self._add(marker, 0)

    def _add(self, event: Observation | ScanMarker, observations: int) -> None:
        self.round.messages.append(Message(event.shard.encode(), event.to_bytes(),
                                           cloudevent_headers(event, SOURCE), observations))
        if self.keep_objects:
            self.round.objects.append(event)


async def scan_round(resources: list[Resource], number: int, *, buckets: int, page_size: int,
                     keep_objects: bool = False) -> Round:
    """One collector pass over every account/region/type: pages, then per-shard ok markers."""
    round_ = Round(number)
    sink = _Encoder(round_, keep_objects)
    started = T0 + ROUND_EVERY * (number - 1)
    by_scope: dict[tuple[str, str, str], list[Resource]] = defaultdict(list)
    for resource in resources:
        by_scope[(resource.account, resource.region, resource.type)].append(resource)
    for (account, region, type_name), members in sorted(by_scope.items()):
        scope = ScanScope(scan_id=f"bench-{number}-{account}-{region}-{type_name}", account=account,
                          region=region, type_name=type_name, buckets=buckets, started_at=started)
        # Pages under the observations topic's default max.message.bytes, as the collector sizes them.
        batcher = ShardBatcher(sink, scope, page_size=page_size,
                               page_bytes=page_budget(KafkaSettings().max_message_bytes))
        for resource in members:
            await batcher.add(resource)
        await batcher.finish_ok(started + timedelta(minutes=2))
    return round_


def round_inputs(base: list[Resource], number: int, modified: float) -> tuple[list[Resource], int]:
    """The inventory as round ``number`` sees it, and how many resources changed since the last."""
    if number == 1:
        return base, 0
    step = max(1, round(1 / modified))
    current, changed = [], 0
    for n, resource in enumerate(base):
        # Resource n was last changed in the latest round r <= number with n % step == (r - 2) % step.
        last = max((r for r in range(2, number + 1) if n % step == (r - 2) % step), default=None)
        current.append(revised(resource, last) if last is not None else resource)
        changed += last == number
    return current, changed


async def build_rounds(count: int, rounds: int, *, modified: float, buckets: int, page_size: int,
                       keep_objects: bool = False) -> list[Round]:
    base = inventory(count)
    result = []
    for number in range(1, rounds + 1):
        current, changed = round_inputs(base, number, modified)
        round_ = await scan_round(current, number, buckets=buckets, page_size=page_size,
                                  keep_objects=keep_objects)
        round_.expected_created = count if number == 1 else 0
        round_.expected_modified = changed
        result.append(round_)
    return result


def warmup_message() -> Message:
    """An ok marker for a shard no round uses: the worker records it and emits nothing.
    Once it is committed, the worker has joined, recovered and processed a message."""
    at = T0 - ROUND_EVERY
    marker = ScanMarker(scan_id="bench-warmup", account="000000000000", region="eu-west-1", type="ec2.instance",
                        shard="000000000000/eu-west-1/ec2.instance/0", status="ok", count=0,
                        ids_digest=digest([]), ids=[], started_at=at, finished_at=at)
    return Message(marker.shard.encode(), marker.to_bytes(), cloudevent_headers(marker, SOURCE), 0)
