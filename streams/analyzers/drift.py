"""Drift: a modification of a resource that already existed, judged by rules.

A modification's field changes first pass the ignore rules (streams/analyzers/ignore.py:
AWS-managed churn by default, then the user's ``analyzer.drift.ignore``); what is left
is drift, whose severity is the worst of its field changes' (streams/analyzers/severity.py).
A resource its tags say an IaC tool owns, changed by anyone CloudTrail does not show to be
that tool, is ``out_of_band`` drift, high at least (streams/analyzers/ownership.py).
Every rule is listed with its evidence and its defaults in docs/analyzers.md.
"""

from __future__ import annotations

from elava.analyzer_events import DriftEvent
from elava.events import AttributedChange, ChangeEvent, FieldChange
from elava.settings import DriftSettings
from streams.analyzers.ignore import IgnoreRules, rekeyed
from streams.analyzers.ownership import iac_owner, made_by_owner, tags_before
from streams.analyzers.severity import RANK, judge, worse

OUT_OF_BAND = "out-of-band"


class DriftAnalyzer:
    """Drift of changes under one ``analyzer.drift`` section (``enabled`` is the driver's to read)."""

    def __init__(self, settings: DriftSettings | None = None) -> None:
        self.drift = settings or DriftSettings()
        self.ignore = IgnoreRules(self.drift)
        self.managed_by_tags = tuple(self.drift.managed_by_tags)

    def drift_for(self, change: ChangeEvent, attributed: AttributedChange | None = None) -> DriftEvent | None:
        """Drift for a modification, with its actor when attribution names one (``attribution``)."""
        if change.kind != "modified" or not change.diff:
            return None
        tags = change.resource.tags if change.resource is not None else {}
        split = self.ignore.split(change.type, tags, change.diff)
        if not split.kept:
            return None
        judged = [judge(c) for c in split.kept]
        severity = max((level for level, _ in judged), key=RANK.index)
        rules = sorted({rule for _, rule in judged})
        if not self.drift.attribution:
            attributed = None
        owner = iac_owner(tags, self.managed_by_tags)
        if owner is None and any(c.path.startswith("tags.") for c in change.diff):  # else the tags before are these
            owner = iac_owner(tags_before(tags, change.diff), self.managed_by_tags)
        out_of_band = owner is not None and not made_by_owner(owner, attributed)
        if out_of_band:
            severity, rules = worse(severity, "high"), sorted([*rules, OUT_OF_BAND])
        known = attributed is not None and attributed.confidence > 0
        return DriftEvent(
            change_id=change.event_id, uid=change.uid, type=change.type, account=change.account,
            region=change.region, severity=severity, summary=summarise(split.kept),
            diff=split.kept, detected_at=change.observed_at,
            actor=attributed.actor if known else None, confidence=attributed.confidence if known else None,
            version=change.new_version, rules=rules, out_of_band=out_of_band,
            owner=owner.label if owner else None, ignored=split.ignored,
        )


_DEFAULT = DriftAnalyzer()


def drift_for(change: ChangeEvent, attributed: AttributedChange | None = None) -> DriftEvent | None:
    """Drift under the default settings."""
    return _DEFAULT.drift_for(change, attributed)


def without_key_rotation(diff: list[FieldChange]) -> list[FieldChange]:
    """The field changes that are not just a secret redacted again under a rotated key."""
    again = rekeyed(diff)
    return [c for i, c in enumerate(diff) if i not in again]


def describe(change: FieldChange) -> str:
    """One human line for one field change."""
    if change.path.startswith("tags."):
        tag = change.path[5:]
        if change.op == "remove":
            return f"tag {tag} removed (was {change.old!r})"
        if change.op == "add":
            return f"tag {tag} added ({change.new!r})"
        return f"tag {tag} changed {change.old!r} -> {change.new!r}"
    if change.op == "add" and isinstance(change.new, dict) and "protocol" in change.new:
        return f"{_leaf(change.path)} rule added: {_rule_text(change.new)}"
    if change.op == "remove" and isinstance(change.old, dict) and "protocol" in change.old:
        return f"{_leaf(change.path)} rule removed: {_rule_text(change.old)}"
    if change.op == "replace":
        return f"{_leaf(change.path)} {change.old!r} -> {change.new!r}"
    verb = "added" if change.op == "add" else "removed"
    value = change.new if change.op == "add" else change.old
    return f"{_leaf(change.path)} {verb}: {value!r}"


def summarise(diff: list[FieldChange]) -> str:
    return "; ".join(describe(c) for c in diff)


def _leaf(path: str) -> str:
    return path.removeprefix("attributes.")


def _rule_text(rule: dict) -> str:
    proto = "all traffic" if rule.get("protocol") in ("-1", "all") else rule.get("protocol", "?")
    ports = ""
    if rule.get("from_port") is not None:
        low, high = rule["from_port"], rule.get("to_port", rule["from_port"])
        ports = f" port {low}" if low == high else f" ports {low}-{high}"
    peer = rule.get("cidr") or rule.get("ipv6_cidr") or rule.get("source_group") or rule.get("prefix_list") or "?"
    return f"{proto}{ports} from {peer}"


