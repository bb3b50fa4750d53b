"""The waste rules, one function each: a `Subject` in, `Waste`, `Unknown` or None out.

Every rule, its evidence, setting and default, and the false positives it was tested
against: docs/analyzers.md. Rules never guess: a missing or throttled metric, a scan
that was not complete, a resource younger than the metrics window give `Unknown`, and
whatever was said before stands. Pure core: no Kafka, no AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from elava.waste_rules import RULES as DESCRIPTIONS
from streams.analyzers.waste.sizes import instance_factor, size_factor
from streams.analyzers.waste.subject import Subject, Unknown, Verdict, Waste
from streams.store.versioned import from_micros


@dataclass(frozen=True)
class Rule:
    name: str
    types: tuple[str, ...] | None  # None: every type with a usage declaration (every priced type)
    check: Callable[[Subject], Verdict]

    def applies_to(self, type_name: str) -> bool:
        return self.types is None or type_name in self.types


def _state(value: str, field: str = "state") -> Callable[[dict], bool]:
    return lambda resource: (resource.get("attributes") or {}).get(field) == value


def _idle_for(subject: Subject, since, reason: str, evidence: dict) -> Verdict:
    """Waste once the condition has held ``idle_threshold``; before that, routine churn."""
    if since is None or subject.now - since < subject.waste.idle_threshold:
        return None
    hours = subject.hours_since(since)
    return Waste(reason.format(days=hours // 24, duration=_duration(hours)), evidence, since, {"hours_idle": hours})


def _duration(hours: int) -> str:
    return f"{hours // 24} days" if hours >= 48 else f"{hours} hour{'' if hours == 1 else 's'}"


def orphaned(subject: Subject) -> Verdict:
    owners = {key.lower() for key in subject.waste.owner_tags}
    if any(key.lower() in owners for key in subject.tags):
        return None
    creation = subject.creation()
    if creation is None:
        # Created before what the store retains: nobody can be named any more.
        return Waste("no owner tag, and its creation is older than what Elava keeps",
                     {"owner_tags": sorted(owners), "creator": None}, subject.created_at,
                     lacking=("creator: the creation is older than storage.retention",))
    # The grace runs from when Elava saw it created: CloudTrail's record arrives after that.
    if subject.now - from_micros(creation.valid_from) < subject.waste.orphan_grace:
        return Unknown(("creator: CloudTrail may still name it (orphan_grace)",))
    actor = (creation.attribution or {}).get("actor") or {}
    if actor.get("arn") or actor.get("name"):
        return None
    return Waste("no owner tag, and nobody could be named as its creator",
                 {"owner_tags": sorted(owners), "creator": None}, subject.created_at)


def unattached_volume(subject: Subject) -> Verdict:
    since = subject.held_since(_state("available"))
    return _idle_for(subject, since, "attached to nothing for {duration}", {"state": "available", "attached": False})


def unassociated_address(subject: Subject) -> Verdict:
    since = subject.held_since(lambda r: (r.get("attributes") or {}).get("associated") is False)
    return _idle_for(subject, since, "associated with nothing for {duration}", {"associated": False})


def stopped_instance(subject: Subject) -> Verdict:
    since = subject.held_since(_state("stopped"))
    verdict = _idle_for(subject, since, "stopped for {duration} (its volumes are still billed)", {"state": "stopped"})
    if isinstance(verdict, Waste):
        volumes = len(subject.attributes.get("volumes") or [])
        return Waste(verdict.reason, verdict.evidence, verdict.since, {**verdict.units, "ebs_volumes": volumes})
    return verdict


def _facts(subject: Subject, names: list[str]) -> dict[str, float] | Unknown:
    found = {}
    for name in names:
        value = subject.metric(name)
        if isinstance(value, Unknown):
            return value
        found[name] = value
    return found


def _old_enough(subject: Subject) -> bool:
    created = subject.created_at
    return created is not None and subject.now - created >= subject.waste.snapshot_age


def orphaned_snapshot(subject: Subject) -> Verdict:
    if not _old_enough(subject):
        return None
    facts = _facts(subject, ["present.ec2.volume", "used_by.ec2.image"])
    if isinstance(facts, Unknown):
        return facts
    if facts["present.ec2.volume"] or facts["used_by.ec2.image"]:
        return None
    return Waste("its volume is gone and no image of ours is made of it",
                 {"volume_id": subject.attributes.get("volume_id"), "volume_present": False, "images": 0},
                 subject.created_at)


def unused_image(subject: Subject) -> Verdict:
    if subject.attributes.get("public") or not _old_enough(subject):
        return None  # a public image may be used by anyone: its use cannot be seen from here
    users = [name for name in (subject.sample.values if subject.sample else {}) if name.startswith("used_by.")]
    facts = _facts(subject, users or ["used_by.ec2.instance"])
    if isinstance(facts, Unknown):
        return facts
    if any(facts.values()):
        return None
    return Waste("no instance of ours runs it", {"used_by": {k.removeprefix("used_by."): 0 for k in facts}},
                 subject.created_at, lacking=("use by launch templates and by accounts it is shared with",))


def _window_total(subject: Subject, names: list[str], unit: str) -> tuple[float, dict] | Unknown:
    young = subject.full_window()
    if young is not None:
        return young
    facts = _facts(subject, names)
    if isinstance(facts, Unknown):
        return facts
    days = round((subject.sample.observed_at - subject.sample.window_start).total_seconds() / 86400, 1)
    return sum(facts.values()), {**{f"{name}_{unit}": value for name, value in facts.items()}, "window_days": days}


def _idle_metric(subject: Subject, names: list[str], unit: str, reason: str) -> Verdict:
    measured = _window_total(subject, names, unit)
    if isinstance(measured, Unknown):
        return measured
    total, evidence = measured
    if total:
        return None
    return Waste(reason.format(days=evidence["window_days"]), evidence, subject.sample.window_start)


def idle_load_balancer(subject: Subject) -> Verdict:
    if not subject.attributes.get("listeners"):
        since = subject.held_since(lambda r: not (r.get("attributes") or {}).get("listeners"))
        return _idle_for(subject, since, "no listeners for {duration}", {"listeners": 0})
    metric = {"application": "requests", "network": "new_flows"}.get(subject.attributes.get("type"))
    if metric is None:
        return None  # a gateway load balancer: no metric of use is declared
    return _idle_metric(subject, [metric], "total", f"no {metric.replace('_', ' ')} in {{days}} days")


def _no_healthy_target(resource: dict) -> bool:
    health = (resource.get("attributes") or {}).get("target_health")
    return health is not None and not health.get("healthy")


def no_healthy_targets(subject: Subject) -> Verdict:
    """Listeners that lead nowhere: no target group, no target, or none healthy, for ``idle_threshold``."""
    health = subject.attributes.get("target_health")
    if health is None:  # stored before Elava read target health: nothing to say yet
        return Unknown(("target health: not read for this load balancer yet (its next scan reads it)",))
    if not subject.attributes.get("listeners"):
        return None  # without listeners it is idle-load-balancer's finding
    groups = health.get("groups") or []
    evidence = {"target_groups": [{key: group.get(key) for key in ("name", "targets", "healthy")} for group in groups],
                "targets": health.get("targets", 0), "healthy": 0}
    # Since when none has been healthy (None while one is): a deploy's minutes are not waste.
    verdict = _idle_for(subject, subject.held_since(_no_healthy_target), "no healthy targets for {duration}", evidence)
    if isinstance(verdict, Waste):
        units = {**verdict.units, "target_groups": len(groups), "targets": evidence["targets"]}
        return Waste(verdict.reason, verdict.evidence, verdict.since, units)
    return verdict


def idle_nat_gateway(subject: Subject) -> Verdict:
    if subject.attributes.get("state") != "available":
        return None
    return _idle_metric(subject, ["bytes_out", "bytes_in"], "total", "moved no bytes in {days} days")


def idle_database(subject: Subject) -> Verdict:
    if subject.attributes.get("status") != "available":
        return None
    return _idle_metric(subject, ["connections"], "max", "no connections in {days} days")


def uninvoked_function(subject: Subject) -> Verdict:
    return _idle_metric(subject, ["invocations"], "total", "not invoked in {days} days")


def _empty(subject: Subject, what: str) -> Verdict:
    since = subject.held_since(lambda r: (r.get("attributes") or {}).get("empty") is True)
    return _idle_for(subject, since, f"empty ({what}) for {{duration}}", {"empty": True})


def empty_repository(subject: Subject) -> Verdict:
    return _empty(subject, "no images")


def empty_bucket(subject: Subject) -> Verdict:
    return _empty(subject, "no objects or versions")


def oversized_instance(subject: Subject) -> Verdict:
    waste = subject.waste
    instance_type = subject.attributes.get("instance_type")
    factor = instance_factor(instance_type)
    if subject.attributes.get("state") != "running" or factor is None:
        return None
    if factor < (size_factor(waste.oversized_min_size) or 0):
        return None
    measured = _window_total(subject, ["cpu"], "p95_percent")
    if isinstance(measured, Unknown):
        return measured
    cpu, evidence = measured
    if cpu >= waste.oversized_cpu_p95:
        return None
    # Whole percents: a verdict that moves by a tenth of a percent is not new evidence.
    evidence = {"cpu_p95_percent": round(cpu), "below_percent": waste.oversized_cpu_p95,
                "window_days": evidence["window_days"]}
    return Waste(f"{instance_type}: CPU p95 {cpu:.1f}% over {evidence['window_days']} days",
                 evidence, subject.sample.window_start, {"normalized_units": factor},
                 lacking=("memory: CloudWatch agent metrics are not read",))


RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("orphaned", None, orphaned),
    Rule("unattached-volume", ("ec2.volume",), unattached_volume),
    Rule("unassociated-address", ("ec2.elastic-ip",), unassociated_address),
    Rule("stopped-instance", ("ec2.instance",), stopped_instance),
    Rule("orphaned-snapshot", ("ec2.snapshot",), orphaned_snapshot),
    Rule("unused-image", ("ec2.image",), unused_image),
    Rule("idle-load-balancer", ("elbv2.load-balancer",), idle_load_balancer),
    Rule("no-healthy-targets", ("elbv2.load-balancer",), no_healthy_targets),
    Rule("idle-nat-gateway", ("ec2.nat-gateway",), idle_nat_gateway),
    Rule("idle-database", ("rds.instance",), idle_database),
    Rule("uninvoked-function", ("lambda.function",), uninvoked_function),
    Rule("empty-repository", ("ecr.repository",), empty_repository),
    Rule("empty-bucket", ("s3.bucket",), empty_bucket),
    Rule("oversized-instance", ("ec2.instance",), oversized_instance),
)}
assert tuple(RULES) == tuple(DESCRIPTIONS), "elava/waste_rules.py names the rules, in this order"
