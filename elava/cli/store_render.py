"""Tables for the time-travel commands (history, at, changes, diff, who).

They draw the query API's JSON (streams/store/render_json.py), so a table looks the
same whether the answer came from the local store or from the workers.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from rich.table import Table

from elava.cli.render import make_table
from elava.events import FieldChange
from streams.analyzers.drift import describe
from streams.store.net import ORDER

KIND_STYLE = {"created": "green", "modified": "yellow", "deleted": "red"}
NOT_ATTRIBUTED = "unknown"
Row = dict[str, Any]


def when(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S") if iso else ""


def kind_cell(kind: str) -> str:
    return f"[{KIND_STYLE.get(kind, 'white')}]{kind}[/]"


def resource_label(about: Row | None, uid: str) -> str:
    """Type, id and name on lines of their own: a narrow table keeps each whole."""
    if not about or not about.get("type"):
        return uid
    ident, name = about.get("id") or uid, about.get("name")
    return f"{about.get('type', '')}\n{ident}" + (f"\n({name})" if name and name != ident else "")


def _tags(resource: Row | None) -> str:
    tags = (resource or {}).get("tags") or {}
    return "tags: " + (", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "none")


def _described(diff: list[Row]) -> list[str]:
    return [describe(FieldChange.model_validate(change)) for change in diff]


def what_changed(row: Row) -> str:
    if row["kind"] == "modified":
        return "\n".join(_described(row.get("diff") or [])) or "content changed"
    if row["kind"] == "deleted":
        return "absent from a complete scan"
    return _tags(row.get("resource"))


def _drift_cell(found: Row | None) -> str:
    return f"{found['severity']}\n{', '.join(found['rules'])}" if found else ""


def history_table(rows: list[Row]) -> Table:
    """Each row's ``drift``: the drift stored with that version (severity and rules), if any."""
    table = make_table("version", "change", "valid from (UTC)", "valid to (UTC)", "what changed", "drift")
    for row in rows:
        table.add_row(f"v{row['version']}", kind_cell(row["kind"]), when(row["valid_from"]),
                      when(row["valid_to"]) or "now", what_changed(row), _drift_cell(row.get("drift")))
    return table


def inventory_table(rows: list[Row]) -> Table:
    table = make_table("resource", "account\nregion", "tags", "version", "since (UTC)",
                       whole=("resource", "account\nregion"))
    for r in sorted(rows, key=lambda r: (r["type"], r["region"], r["id"])):
        table.add_row(resource_label(r, r["uid"]), f"{r['account']}\n{r['region']}", str(len(r.get("tags") or {})),
                      f"v{r['version']}", when(r["valid_from"]))
    return table


def changes_table(rows: list[Row]) -> Table:
    table = make_table("when (UTC)", "change", "resource", "version", "what changed", whole=("resource",))
    for row in rows:
        table.add_row(when(row["valid_from"]), kind_cell(row["kind"]), resource_label(row, row["uid"]),
                      f"v{row['version']}", what_changed(row))
    return table


def _who_cell(row: Row) -> str:
    if not row["attributed"]:
        return f"[dim]{NOT_ATTRIBUTED}[/]"
    actors = row.get("actors") or []
    if len(actors) < 2:
        return f"{row['actor']} ({row['actor_kind']})"
    return "\n".join(f"{a['actor']} ({a['actor_kind']}) {a['share']:.0%} of the diff, {a['confidence']:.2f}"
                     for a in actors)


def who_table(rows: list[Row]) -> Table:
    table = make_table("version", "when (UTC)", "change", "who", "how", "confidence", "evidence")
    for row in rows:
        confidence = f"{row['confidence']:.2f}" if row.get("confidence") is not None else ""
        table.add_row(f"v{row['version']}", when(row["valid_from"]), kind_cell(row["kind"]), _who_cell(row),
                      row.get("method") or "", confidence, "\n".join(row.get("evidence") or []))
    return table


def _net_what(row: Row) -> str:
    if row["change"] == "modified":
        return "\n".join((["deleted and created again"] if row["recreated"] else []) + _described(row["diff"]))
    if row["change"] == "created":
        return _tags(row.get("after"))
    return "no longer exists"


def diff_table(rows: list[Row]) -> Table:
    table = make_table("change", "resource", "versions", "what differs", "by", whole=("resource",))
    for row in sorted(rows, key=lambda r: (ORDER[r["change"]], r.get("type") or "", r["uid"])):
        span = " -> ".join(f"v{row[end]}" for end in ("from_version", "to_version") if row[end] is not None)
        table.add_row(kind_cell(row["change"]), resource_label(row, row["uid"]), span, _net_what(row),
                      "\n".join(row.get("actors") or []))
    return table


def net_summary(rows: list[Row], since: datetime, until: datetime) -> str:
    counts = Counter(row["change"] for row in rows)
    span = f"{since:%Y-%m-%d %H:%M:%S} -> {until:%Y-%m-%d %H:%M:%S} UTC"
    return f"{counts['created']} created, {counts['modified']} modified, {counts['deleted']} deleted ({span})"
