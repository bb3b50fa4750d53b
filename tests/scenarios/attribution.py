"""Attribution scenario suite: real (moto) changes, CloudTrail records as AWS writes them.

Resources are changed in a moto account, scanned by the real collector into the embedded
pipeline, and the trail records go through the real normaliser
(`collectors.cloudtrail.normalize.records`); the scenarios are in `families.py`, who acts in
`cast.py`. Every actor an attribution names is a claim with a confidence; a claim is
right when it names someone who made the change (a tag heuristic is also right when it
names the tool that did: ``via`` terraform for terraform-deployer).

    python3 -m tests.scenarios.attribution        # the results and calibration tables (markdown)
    python3 -m tests.scenarios.calibrate --write  # refit the confidences from a run
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import aioboto3

from collectors.aws.scanner import scan_account
from collectors.cloudtrail.normalize.records import trail_events
from collectors.redact import Redactor
from elava.catalogue import registry
from elava.demo.simulated import ACCOUNT, CREDENTIALS, REGION, SimulatedAccount
from elava.events import Actor
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.scenarios.families import ACT, ARRIVALS, SETUP, Scenario, scenarios

TYPES = [registry.get(n) for n in ("ec2.instance", "ec2.security-group", "s3.bucket")]
REDACTOR = Redactor(b"attribution-scenarios-redaction-key")
TOOL_VIAS = ("cloudformation", "autoscaling", "eks", "terraform", "pulumi", "cdk")


@dataclass(frozen=True)
class Claim:
    """One actor an attribution names: how (method, raw score or rule), how sure, whether right."""

    scenario: Scenario
    actor: Actor
    method: str
    confidence: float
    share: float
    score: float | None = None  # the raw CloudTrail score the confidence was fitted from
    rule: str | None = None  # the tag heuristic's rule

    @property
    def correct(self) -> bool:
        truth = self.scenario.truth
        if self.actor.name and self.actor.name in {t.name for t in truth}:
            return True
        return self.method == "heuristic" and self.actor.via in TOOL_VIAS and self.actor.via in {t.via for t in truth}


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    claims: list[Claim]  # largest share first; none: nobody named

    @property
    def main(self) -> Claim | None:
        return self.claims[0] if self.claims else None

    @property
    def right(self) -> bool:
        """Names one who made it, or — with no record to go by — names nobody."""
        return self.main.correct if self.main else self.scenario.arrival == "missing"

    @property
    def confidence(self) -> float:
        return self.main.confidence if self.main else 0.0

    @property
    def confidently_wrong(self) -> bool:
        return self.main is not None and not self.main.correct and self.main.confidence >= 0.9

    @property
    def all_named(self) -> bool:
        named = {c.actor.name for c in self.claims if c.correct}
        return named >= {t.name for t in self.scenario.truth}


async def _scan(pipeline: EmbeddedPipeline, cloud: SimulatedAccount, number: int) -> None:
    session = aioboto3.Session(region_name=REGION, **CREDENTIALS)
    report = await scan_account(session, ACCOUNT, [REGION], TYPES, pipeline, buckets=8, page_size=500,
                                endpoint_url=cloud.endpoint_url, scan_id=f"scenario-scan-{number}",
                                redactor=REDACTOR)
    assert not report.partial, report.failures()


async def _feed(pipeline: EmbeddedPipeline, records: list[dict]) -> None:
    for raw in records:
        for event in trail_events(raw):
            await pipeline.trail(event)


def claims_of(s: Scenario, record: dict) -> list[Claim]:
    method = record.get("method") or "none"
    return [Claim(s, Actor.model_validate(a["actor"]), method, a["confidence"], a["share"],
                  a.get("score") if method == "cloudtrail" else None, record.get("rule"))
            for a in record.get("actors") or []]


def _outcome(pipeline: EmbeddedPipeline, store: VersionStore, s: Scenario) -> Outcome:
    final = {}
    for attributed in pipeline.outputs.attributed:  # later updates overwrite earlier ones
        change = attributed.change
        if change.resource is not None and change.resource.id == s.target and change.kind == s.kind:
            final[change.event_id] = change
    if len(final) != 1:
        raise AssertionError(f"{s.name}: expected one {s.kind} change of {s.target}, found {len(final)}")
    (change,) = final.values()
    return Outcome(s, claims_of(s, store.get_version(change.uid, change.new_version).attribution or {}))


async def run_suite(plan: list[Scenario] | None = None) -> list[Outcome]:
    plan = scenarios() if plan is None else plan
    with SimulatedAccount() as cloud:
        cloud.reset()
        store = VersionStore(MemoryKV())
        pipeline = EmbeddedPipeline(store)
        for s in plan:
            SETUP[s.family](cloud, s)
        await _scan(pipeline, cloud, 1)
        pipeline.outputs.clear()
        await asyncio.sleep(1.5)  # the changes happen after the first scan started
        late: list[dict] = []
        for s in plan:
            early, later = ACT[s.family](cloud, s, datetime.now(UTC))
            await _feed(pipeline, early)
            late.extend(later)
        await _scan(pipeline, cloud, 2)
        await _feed(pipeline, late)
        return [_outcome(pipeline, store, s) for s in plan]


def table(outcomes: list[Outcome]) -> str:
    rows = ["| family | trail arrival | scenarios | right | accuracy | all authors named "
            "| wrong at confidence ≥ 0.9 | mean confidence |", "|---|---|---|---|---|---|---|---|"]
    groups = [(f, a) for f in ("grid", "co-authors", "managed") for a in (*ARRIVALS, "all")]
    for family, arrival in groups + [("all", "all")]:
        group = [o for o in outcomes if family in ("all", o.scenario.family) and arrival in ("all", o.scenario.arrival)]
        if not group:
            continue
        right, named = sum(o.right for o in group), sum(o.all_named for o in group)
        wrong, mean = sum(o.confidently_wrong for o in group), sum(o.confidence for o in group) / len(group)
        rows.append(f"| {family} | {arrival} | {len(group)} | {right} | {right / len(group):.1%} | {named} | "
                    f"{wrong} | {mean:.2f} |")
    return "\n".join(rows)


def main() -> None:
    from tests.scenarios.calibrate import report

    outcomes = asyncio.run(run_suite())
    print(table(outcomes))
    print()
    print(report(outcomes))
    wrong = Counter(o.scenario.name.rsplit("/", 2)[0] + "/" + o.scenario.arrival for o in outcomes if not o.right)
    if wrong:
        print("\nnot right:", dict(wrong))


if __name__ == "__main__":
    main()
