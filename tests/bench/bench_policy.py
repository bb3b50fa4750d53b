"""Benchmark of the policy engines: µs per evaluation with the shipped policies.

Run: ``python -m tests.bench.bench_policy [--changes 10000] [--policies policies/]
[--engines regopy,wasm] [--no-stage] [--no-opa]``. Prints one JSON object on stdout.
Not a test: nothing asserts (tests/unit/streams/policy/test_engines_agree.py does).

For each engine (regopy; the Wasm engine, which needs ``elava-policies.wasm`` built from
the policies): the engine in-process, one change at a time (``evaluate``) and in batches
of 500 (``decide_each``, as the policy stage asks its child), as wall-clock and CPU µs
per evaluated change and per decision; then (``stage``) the policy stage's own path
without a broker: records' bytes in, the evaluating child, the events' bytes, headers
and OCSF copies out (tests/bench/policy_stage_cost.py); and, where an ``opa`` binary is
found, OPA as a sidecar over its REST API (tests/bench/opa_rest.py). The machine's load
average is reported at the start and the end: on a shared machine the figures move.

The changes are varied and deterministic (seeded): instances, volumes and security
groups as the store benchmark makes them (``tests/bench/synthetic.py``), plus RDS
instances and S3 buckets; a share lacks its owner or environment tag, opens SSH to
the world, is unattached, unencrypted in production or without a public access
block, so every shipped policy has work to do. Attributions vary (CloudTrail or
provisional, known actor or not); a tenth of the changes are deletions (skipped).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from elava.events import ActionRequest, AttributedChange, PolicyDecision, Resource
from elava.settings import PolicySettings, Settings
from streams.policy import PolicyEngine
from streams.policy.build import find_opa
from streams.policy.definitions import load_policy, policy_files
from streams.policy.samples import sample_change
from tests.bench import opa_rest
from tests.bench.policy_stage_cost import stage_cost
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


BATCH = 500


def _timed(function, items) -> tuple[float, float, list]:
    started, cpu = time.perf_counter(), time.process_time()
    results = [function(item) for item in items]
    return time.perf_counter() - started, time.process_time() - cpu, results


def _batches(changes: list[AttributedChange]) -> list[list[AttributedChange]]:
    return [changes[i:i + BATCH] for i in range(0, len(changes), BATCH)]


def _figures(wall: float, cpu: float, evaluated: int, decisions: int) -> dict[str, float]:
    return {"us_wall_per_evaluation": round(wall / evaluated * 1e6, 1),
            "us_cpu_per_evaluation": round(cpu / evaluated * 1e6, 1),
            "us_wall_per_decision": round(wall / decisions * 1e6, 1),
            "us_cpu_per_decision": round(cpu / decisions * 1e6, 1)}


def engine_figures(engine: PolicyEngine, changes: list[AttributedChange]) -> dict[str, Any]:
    evaluated = sum(1 for c in changes if engine.applicable(c))
    _timed(engine.evaluate, changes[:BATCH])  # warm-up
    wall, cpu, one_by_one = _timed(engine.evaluate, changes)
    flat = [o for out in one_by_one for o in out]
    decisions = sum(1 for o in flat if isinstance(o, PolicyDecision))
    batch_wall, batch_cpu, batched = _timed(engine.decide_each, _batches(changes))
    same = [o for part in batched for out in part for o in out] == flat
    return {
        "evaluator": engine.evaluator, "evaluated": evaluated, "decisions": decisions,
        "one_at_a_time": _figures(wall, cpu, evaluated, decisions),
        f"batches_of_{BATCH}": _figures(batch_wall, batch_cpu, evaluated, decisions),
        "batched_outputs_equal_one_at_a_time": same,
        "decisions_by_policy": dict(Counter(f"{o.policy}:{o.decision}" for o in flat if isinstance(o, PolicyDecision))),
        "action_requests": dict(Counter(f"{o.policy}:{o.action}" for o in flat if isinstance(o, ActionRequest))),
    }


def _machine() -> dict[str, Any]:
    from importlib.metadata import version

    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "regopy": version("regopy"), "wasmtime": version("wasmtime"), "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--policies", type=Path, default=Path("policies"))
    parser.add_argument("--engines", default="regopy,wasm")
    parser.add_argument("--no-stage", action="store_true", help="skip the policy stage's path")
    parser.add_argument("--no-opa", action="store_true", help="skip OPA as a REST sidecar")
    args = parser.parse_args()
    changes = build_changes(args.changes)
    gc.freeze()  # the corpus lives to the end: the collector need not walk it (the worker freezes too)
    report: dict[str, Any] = {"machine": _machine(), "changes": len(changes),
                              "deletions": sum(1 for c in changes if c.change.kind == "deleted"), "engines": {}}
    for kind in args.engines.split(","):
        settings = PolicySettings(path=args.policies, enforcement_mode="enforce", engine=kind)
        report["engines"][kind] = engine_figures(PolicyEngine.load(settings), changes)
        if not args.no_stage:
            report["engines"][kind]["stage"] = stage_cost(Settings(policies=settings), changes)
    opa = None if args.no_opa else find_opa()
    if opa is not None:
        policies = [load_policy(path) for path in policy_files(args.policies)]
        evaluated = [c for c in changes if c.change.kind != "deleted"]
        report["opa_rest_sidecar"] = {"opa": _opa_version(opa), **opa_rest.measure(opa, policies, evaluated, BATCH)}
    report["machine"]["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))


def _opa_version(opa: str) -> str:
    import subprocess

    return subprocess.run([opa, "version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]


if __name__ == "__main__":
    main()
