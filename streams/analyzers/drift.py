"""Drift: a modification of a resource that already existed, with a severity.

Severity is about exposure first: a rule opening a port to the whole internet is
high (critical for admin ports); losing an ownership tag is medium; the rest low.
A redacted secret whose digest changed only because the redaction key was rotated is
not drift (the change event still records the new version).
"""

from __future__ import annotations

from elava.catalogue.constants import ADMIN_PORTS, WORLD_CIDRS
from elava.events import AttributedChange, ChangeEvent, DriftEvent, FieldChange
from elava.redaction import only_rekeyed
from streams.analyzers.risk import OWNERSHIP_TAGS

_RANK = ["info", "low", "medium", "high", "critical"]


def drift_for(change: ChangeEvent, attributed: AttributedChange | None = None) -> DriftEvent | None:
    """Drift for a modification, with its actor when attribution names one."""
    diff = without_key_rotation(change.diff) if change.kind == "modified" else []
    if not diff:
        return None
    severity = max((_severity(c) for c in diff), key=_RANK.index)
    known = attributed is not None and attributed.confidence > 0
    return DriftEvent(
        change_id=change.event_id, uid=change.uid, type=change.type, account=change.account,
        region=change.region, severity=severity, summary=summarise(diff),
        diff=diff, detected_at=change.observed_at,
        actor=attributed.actor if known else None, confidence=attributed.confidence if known else None,
    )


def without_key_rotation(diff: list[FieldChange]) -> list[FieldChange]:
    """The field changes that are not just a secret redacted again under a rotated key.

    A redacted value in a dict changes in place (``replace``); one inside a list item
    reads as that item removed and an item added at the same path.
    """
    kept = [c for c in diff if not (c.op == "replace" and only_rekeyed(c.old, c.new))]
    removed = [c for c in kept if c.op == "remove"]
    for added in [c for c in kept if c.op == "add"]:
        twin = next((r for r in removed if r.path == added.path and only_rekeyed(r.old, added.new)), None)
        if twin is not None:
            removed.remove(twin)
            kept = [c for c in kept if c is not twin and c is not added]
    return kept


def _severity(change: FieldChange) -> str:
    if _opens_to_world(change):
        return "critical" if _touches_admin_port(change.new) else "high"
    if change.path.startswith("tags.") and change.op == "remove":
        return "medium" if change.path[5:] in OWNERSHIP_TAGS else "low"
    return "low"


def _opens_to_world(change: FieldChange) -> bool:
    rule = change.new
    return (
        change.op == "add" and change.path.startswith("attributes.ingress")
        and isinstance(rule, dict) and (rule.get("cidr") in WORLD_CIDRS or rule.get("ipv6_cidr") in WORLD_CIDRS)
    )


def _touches_admin_port(rule: dict) -> bool:
    if rule.get("protocol") in ("-1", "all"):
        return True
    low, high = rule.get("from_port"), rule.get("to_port")
    if low is None or high is None:
        return False
    return any(low <= port <= high for port in ADMIN_PORTS)


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


