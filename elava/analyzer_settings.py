"""The `analyzer` section: drift ignore and severity rules, lifecycle patterns, waste rules
(docs/analyzers.md describes each setting and its default)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from elava.settings_base import Duration, Section


def _known_type_glob(pattern: str) -> str:
    """``pattern`` names or matches at least one resource type of the catalogue."""
    import fnmatch

    from elava.catalogue.registry import all_types  # the catalogue imports no settings

    if not any(fnmatch.fnmatchcase(t.name, pattern) for t in all_types()):
        raise ValueError(f"type {pattern!r} matches no resource type (see docs/resource-types.md)")
    return pattern


class DriftIgnoreRule(Section):
    """Field changes drift leaves out: those of matching resources at matching paths (globs)."""

    type: str = "*"  # a type or a glob: ec2.instance, ec2.*
    fields: list[str] = Field(default_factory=lambda: ["*"], min_length=1)  # attributes.monitoring, tags.team*
    tags: dict[str, str] = Field(default_factory=dict)  # only resources carrying these tags (key and value globs)

    # A rule that can match nothing is a typo: driftctl's users left over ignores that silently did not work.
    @model_validator(mode="after")
    def _can_match(self) -> DriftIgnoreRule:
        _known_type_glob(self.type)
        for path in self.fields:
            if not (path == "*" or path == "name" or path.startswith(("tags.", "attributes.", "tags*", "attributes*"))):
                raise ValueError(f"field {path!r} can match no change: paths start with tags., attributes. or are name")
        return self


class DriftSettings(Section):
    enabled: bool = True
    attribution: bool = True
    # Users' own noise (docs/analyzers.md): matched on the type, the field path and the tags.
    ignore: list[DriftIgnoreRule] = Field(default_factory=list)
    # The AWS-managed churn left out by default (aws:* tags, settling states, desired
    # capacity, times AWS stamps, empty vs missing); false reports every field change.
    default_ignores: bool = True
    # Tag keys that say an IaC tool owns a resource, on top of the CloudFormation stack,
    # Terraform and Pulumi tags: a change by anyone else is out-of-band drift.
    managed_by_tags: list[str] = Field(default_factory=list)
    # The drift stage (`elava drift-stage serve`) derives drift from elava.attributed-changes in its
    # own consumer group, off the worker's path; `elava worker` runs it as a supervised child
    # unless stage_in_worker is false (then run `elava drift-stage serve` apart, as many as needed).
    app_id: str = "elava-drift"
    stage_in_worker: bool = True


class PatternSettings(Section):
    """Lifecycle patterns (elava.patterns); thresholds of each rule (docs/analyzers.md)."""

    enabled: bool = True
    recreated_within: Duration = timedelta(hours=24)  # deleted and back under the same name within this
    short_lived: Duration = timedelta(hours=1)  # deleted this soon after it was created
    short_lived_by_type: dict[str, Duration] = Field(default_factory=dict)  # per type: {ec2.instance: 10m}
    flapping_changes: int = Field(default=3, ge=2)  # changes of one field, going back, within flapping_window
    flapping_window: Duration = timedelta(hours=24)
    schedule_days: int = Field(default=3, ge=2)  # started (stopped) in the same hour on this many days
    schedule_lookback: Duration = timedelta(days=14)
    burst_changes: int = Field(default=10, ge=2)  # resources changed by one actor within burst_window
    burst_window: Duration = timedelta(minutes=10)
    # Re-created under a name and bursts span partitions: the fleet-pattern stage (`elava fleet
    # serve`) reads elava.attributed-changes in its own consumer group and publishes them on
    # elava.patterns; `elava worker` runs it as a supervised child unless fleet_stage_in_worker
    # is false (then run one `elava fleet serve` apart: it reads every partition).
    fleet_app_id: str = "elava-fleet-patterns"
    fleet_stage_in_worker: bool = True
    # A change is judged this long after it happened: CloudTrail names actors minutes late, and
    # the changes of the same moment from other partitions must have arrived.
    fleet_settle: Duration = Field(default=timedelta(minutes=15), ge=timedelta(0))

    @model_validator(mode="after")
    def _known_types(self) -> PatternSettings:
        for name in self.short_lived_by_type:
            _known_type_glob(name)
        return self


class WasteSettings(Section):
    """The waste analyzer's rules (docs/analyzers.md): each can be turned off in ``disabled``."""

    enabled: bool = True
    disabled: list[str] = Field(default_factory=list)  # rule names (docs/analyzers.md) not to apply
    # Stopped instances, unattached volumes, unassociated addresses, empty repositories and
    # buckets: a resource is waste once it has been so this long (shorter is routine churn).
    idle_threshold: Duration = timedelta(days=7)
    # CloudWatch metrics are fetched this often per account/region, over the last metrics_window:
    # slower than scans, since a 14-day verdict does not move in minutes and every call costs.
    metrics_interval: Duration = Field(default=timedelta(hours=6), ge=timedelta(minutes=5))
    metrics_window: Duration = Field(default=timedelta(days=14), ge=timedelta(hours=1), le=timedelta(days=63))
    owner_tags: list[str] = Field(default_factory=lambda: ["owner"], min_length=1)  # any of them names an owner
    orphan_grace: Duration = timedelta(days=1)  # CloudTrail may name the creator this late
    # A scan marker judges every member of its shard at most this often; in between, only the
    # members whose head changed (deletions included): re-judging the unchanged majority every
    # scan cost a tenth of the worker's CPU. Thresholds crossed with no change (idle_threshold,
    # orphan_grace, snapshot_age) are found up to this late. 0: every marker judges every member.
    sweep_interval: Duration = Field(default=timedelta(hours=6), ge=timedelta(0))  # as metrics_interval
    snapshot_age: Duration = timedelta(days=30)  # orphaned snapshots and unused AMIs: older than this
    oversized_cpu_p95: float = Field(default=10.0, gt=0, le=100)  # percent
    oversized_min_size: str = Field(default="2xlarge", pattern=r"^(nano|micro|small|medium|large|\d*xlarge|metal)$")

    @model_validator(mode="after")
    def _known_rules(self) -> WasteSettings:
        from elava.waste_rules import RULE_NAMES  # the rules' names live beside their docs

        unknown = sorted(set(self.disabled) - set(RULE_NAMES))
        if unknown:
            raise ValueError(f"disabled: unknown rule(s) {', '.join(unknown)}; the rules are {', '.join(RULE_NAMES)}")
        return self


class AnalyzerSettings(Section):
    drift: DriftSettings = DriftSettings()
    waste: WasteSettings = WasteSettings()
    patterns: PatternSettings = PatternSettings()
