"""Tables and JSON lines for the time-travel commands (history, at, changes, diff, who)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from rich.table import Table

from elava.cli.render import make_table
from elava.events import FieldChange
from streams.analyzers.drift import describe
from streams.store.net import ORDER, NetChange
from streams.store.queries import Authorship
from streams.store.render_json import names_of
from streams.store.versioned import Version, from_micros

KIND_STYLE = {"created": "green", "modified": "yellow", "deleted": "red"}
NOT_ATTRIBUTED = "unknown"


def when(micros: int | None) -> str:
    return from_micros(micros).strftime("%Y-%m-%d %H:%M:%S") if micros is not None else ""


def kind_cell(kind: str) -> str:
    return f"[{KIND_STYLE.get(kind, 'white')}]{kind}[/]"


def resource_label(resource: dict[str, Any] | None, uid: str) -> str:
    """Type, id and name on lines of their own: a narrow table keeps each whole."""
    if not resource:
        return uid
    ident, name = resource.get("id") or uid, resource.get("name")
    return f"{resource.get('type', '')}\n{ident}" + (f"\n({name})" if name and name != ident else "")


def what_changed(version: Version) -> str:
    if version.kind == "modified":
        return "\n".join(describe(FieldChange.model_validate(d)) for d in version.diff) or "content changed"
    if version.kind == "deleted":
        return "absent from a complete scan"
    tags = (version.resource or {}).get("tags") or {}
    return "tags: " + (", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "none")


def history_table(versions: list[Version], drift: dict[int, Any] | None = None) -> Table:
    """``drift``: each version's stored drift (a DriftEvent or None), shown with its severity and rules."""
    table = make_table("version", "change", "valid from (UTC)", "valid to (UTC)", "what changed", "drift")
    for v in versions:
        found = (drift or {}).get(v.version)
        table.add_row(f"v{v.version}", kind_cell(v.kind), when(v.valid_from), when(v.valid_to) or "now",
                      what_changed(v), f"{found.severity}\n{', '.join(found.rules)}" if found else "")
    return table


def inventory_table(versions: list[Version]) -> Table:
    table = make_table("resource", "account\nregion", "tags", "version", "since (UTC)",
                       whole=("resource", "account\nregion"))
    rows = sorted(versions, key=lambda v: (v.resource["type"], v.resource["region"], v.resource["id"]))
    for v in rows:
        r = v.resource
        table.add_row(resource_label(r, v.uid), f"{r['account']}\n{r['region']}", str(len(r.get("tags") or {})),
                      f"v{v.version}", when(v.valid_from))
    return table


def changes_table(rows: list[tuple[Version, dict[str, Any] | None]]) -> Table:
    table = make_table("when (UTC)", "change", "resource", "version", "what changed", whole=("resource",))
    for version, subject in rows:
        table.add_row(when(version.valid_from), kind_cell(version.kind), resource_label(subject, version.uid),
                      f"v{version.version}", what_changed(version))
    return table


def _who_cell(row: Authorship) -> str:
    if not row.attributed:
        return f"[dim]{NOT_ATTRIBUTED}[/]"
    if len(row.actors) < 2:
        return f"{row.actor} ({row.actor_kind})"
    return "\n".join(f"{a.actor} ({a.actor_kind}) {a.share:.0%} of the diff, {a.confidence:.2f}" for a in row.actors)


def who_table(rows: list[Authorship]) -> Table:
    table = make_table("version", "when (UTC)", "change", "who", "how", "confidence", "evidence")
    for row in rows:
        v = row.version
        confidence = f"{row.confidence:.2f}" if row.confidence is not None else ""
        actor = _who_cell(row)
        table.add_row(f"v{v.version}", when(v.valid_from), kind_cell(v.kind), actor, row.method or "",
                      confidence, "\n".join(row.evidence))
    return table


def _net_what(found: NetChange) -> str:
    if found.kind == "modified":
        lines = [describe(change) for change in found.diff]
        return "\n".join((["deleted and created again"] if found.recreated else []) + lines)
    if found.kind == "created":
        tags = found.subject.get("tags") or {}
        return "tags: " + (", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "none")
    return "no longer exists"


def diff_table(rows: list[NetChange]) -> Table:
    table = make_table("change", "resource", "versions", "what differs", "by", whole=("resource",))
    for found in sorted(rows, key=lambda n: (ORDER[n.kind], n.subject.get("type") or "", n.uid)):
        span = " -> ".join(f"v{v.version}" for v in (found.before, found.after) if v is not None)
        actors = names_of(found.between)
        table.add_row(kind_cell(found.kind), resource_label(found.subject, found.uid), span, _net_what(found),
                      "\n".join(actors))
    return table


def net_summary(rows: list[NetChange], since: datetime, until: datetime) -> str:
    counts = Counter(found.kind for found in rows)
    span = f"{since:%Y-%m-%d %H:%M:%S} -> {until:%Y-%m-%d %H:%M:%S} UTC"
    return f"{counts['created']} created, {counts['modified']} modified, {counts['deleted']} deleted ({span})"
