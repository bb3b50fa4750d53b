"""Benchmark of the policy engine: µs per evaluation with the shipped policies.

Run: ``python -m tests.bench.bench_policy [--changes 10000] [--policies policies/]``.
Prints one JSON object on stdout. Not a test: nothing asserts.

The changes are varied and deterministic (seeded): instances, volumes and security
groups as the store benchmark makes them (``tests/bench/synthetic.py``), plus RDS
instances and S3 buckets; a share lacks its owner or environment tag, opens SSH to
the world, is unattached, unencrypted in production or without a public access
block, so every shipped policy has work to do. Attributions vary (CloudTrail or
provisional, known actor or not); a tenth of the changes are deletions (skipped).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from pathlib import Path

from elava.events import ActionRequest, AttributedChange, PolicyDecision, Resource
from elava.settings import PolicySettings
from streams.policy import PolicyEngine
from streams.policy.document import input_document
from streams.policy.samples import sample_change
from tests.bench.synthetic import base_resources

ACTORS = [{"name": "alice", "arn": "arn:aws:iam::111122223333:user/alice", "kind": "human"},
          {"arn": "arn:aws:sts::111122223333:assumed-role/deploy/ci", "kind": "automation"}, {}]


def _extra_resources(count: int, rnd: random.Random) -> list[Resource]:
    extra = []
    for n in range(count):
        if n % 2:
            attributes = {"engine": "postgres", "storage_encrypted": rnd.random() > 0.3, "multi_az": True,
                          "publicly_accessible": False, "instance_class": "db.r6g.large"}
            extra.append(Resource(uid=f"arn:aws:rds:eu-west-1:111122223333:db:db-{n}", type="rds.instance",
                                  id=f"db-{n}", account="111122223333", region="eu-west-1", attributes=attributes))
        else:
            public = rnd.random() < 0.3  # its ACL lets everyone read it
            extra.append(Resource(uid=f"arn:aws:s3:::bucket-{n}", type="s3.bucket", id=f"bucket-{n}",
                                  account="111122223333", region="eu-west-1",
                                  attributes={"versioning": "Enabled", "public_access_block": None,
                                              "acl_public_grants": ["AllUsers:READ"] if public else [],
                                              "public": public, "public_via": ["acl"] if public else []}))
    return extra


def _vary(resource: Resource, rnd: random.Random) -> Resource:
    tags = dict(resource.tags)
    tags["environment"] = tags.pop("env", "prod") if rnd.random() > 0.2 else ""
    if rnd.random() < 0.3:
        tags.pop("owner", None)
    attributes = dict(resource.attributes)
    if resource.type == "ec2.security-group" and rnd.random() < 0.2:
        attributes["ingress"] = [*attributes["ingress"],
                                 {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}]
    if resource.type == "ec2.volume" and rnd.random() < 0.2:
        attributes.update(state="available", attached=False, attachments=[])
    return resource.model_copy(update={"tags": tags, "attributes": attributes})


def build_changes(count: int, seed: int = 7) -> list[AttributedChange]:
    rnd = random.Random(seed)
    resources = base_resources(count * 3 // 4, seed) + _extra_resources(count - count * 3 // 4, rnd)
    rnd.shuffle(resources)
    changes = []
    for n, resource in enumerate(resources):
        kind = "deleted" if n % 10 == 9 else rnd.choice(["created", "modified"])
        changes.append(sample_change(_vary(resource, rnd), kind=kind, version=1 if kind == "created" else 2,
                                     actor=rnd.choice(ACTORS), provisional=rnd.random() < 0.3))
    return changes


def _timed(function, items) -> tuple[float, list]:
    started = time.perf_counter()
    results = [function(item) for item in items]
    return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--policies", type=Path, default=Path("policies"))
    args = parser.parse_args()
    engine = PolicyEngine.load(PolicySettings(path=args.policies, enforcement_mode="enforce"))
    changes = build_changes(args.changes)
    evaluated = [c for c in changes if c.change.kind != "deleted"]
    _timed(engine.evaluate, changes[:500])  # warm-up
    total, outputs = _timed(engine.evaluate, changes)
    documents, _ = _timed(input_document, evaluated)
    flat = [o for out in outputs for o in out]
    report = {
        "policies": [p.name for p in engine.policies],
        "changes": len(changes), "evaluated": len(evaluated),
        "us_per_evaluation": round(total / len(evaluated) * 1e6, 1),
        "us_per_change_including_deletions": round(total / len(changes) * 1e6, 1),
        "us_building_input_documents": round(documents / len(evaluated) * 1e6, 1),
        "decisions": dict(Counter(f"{o.policy}:{o.decision}" for o in flat if isinstance(o, PolicyDecision))),
        "action_requests": dict(Counter(f"{o.policy}:{o.action}" for o in flat if isinstance(o, ActionRequest))),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
