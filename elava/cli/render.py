"""Rich rendering of changes, drift and the topic catalog."""

from __future__ import annotations

from typing import Any

import orjson
from rich.console import Console, Group
from rich.table import Table

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.events import ActionRequest, ChangeEvent, PolicyDecision
from streams.analyzers.drift import describe

KIND_STYLE = {"created": "green", "modified": "yellow", "deleted": "red"}
SEVERITY_STYLE = {"info": "dim", "low": "cyan", "medium": "yellow", "high": "bold red", "critical": "bold white on red"}


def make_table(*headers: str, whole: tuple[str, ...] = (), **options: Any) -> Table:
    """A table that never cuts a cell: on a narrow terminal text folds onto a next line
    instead of ending in "…". The ``whole`` columns (ids: what people copy into the next
    command) keep their width; the others give way to them."""
    made = Table(**options)
    for header in headers:
        made.add_column(header, overflow="fold", no_wrap=header in whole)
    return made


def label(change: ChangeEvent) -> str:
    resource = change.resource
    name = resource.name if resource and resource.name else None
    ident = resource.id if resource else change.uid
    return f"{change.type} {ident}" + (f" ({name})" if name and name != ident else "")


def change_details(change: ChangeEvent) -> str:
    if change.kind == "modified":
        return "\n".join(describe(c) for c in change.diff)
    if change.kind == "deleted":
        return f"absent from a complete scan; last version v{change.previous_version}"
    tags = change.resource.tags if change.resource else {}
    return "tags: " + (", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "none")


def changes_table(changes: list[ChangeEvent], drift: list[DriftEvent]) -> Table:
    found = {d.change_id: d for d in drift}
    table = make_table("when (UTC)", "change", "resource", "what changed", "drift", header_style="bold")
    for change in changes:
        table.add_row(
            change.observed_at.strftime("%H:%M:%S"), f"[{KIND_STYLE[change.kind]}]{change.kind}[/]",
            label(change), change_details(change), drift_cell(found.get(change.event_id)),
        )
    return table


def drift_cell(drift: DriftEvent | None) -> str:
    """The severity, and for an IaC-owned resource changed outside it, who owns it and who changed it."""
    if drift is None:
        return ""
    cell = f"[{SEVERITY_STYLE[drift.severity]}]{drift.severity}[/]"
    if drift.out_of_band:
        who = (drift.actor.name or drift.actor.arn) if drift.actor else "an unknown actor"
        cell += f"\nout-of-band: owned by {drift.owner}, changed by {who}"
    return cell


def patterns_lines(patterns: list[PatternEvent]) -> list[str]:
    return [f"[bold magenta]pattern[/] {p.pattern}: {p.summary}" for p in patterns]


def policy_table(decisions: list[PolicyDecision], actions: list[ActionRequest]) -> Table:
    """One row per policy finding: what it says and what it asks the executor to do."""
    asked: dict[str, list[ActionRequest]] = {}
    for action in actions:
        asked.setdefault(action.decision_id, []).append(action)
    table = make_table("policy", "resource", "finding", "asks (mode)", header_style="bold")
    for decision in sorted(decisions, key=lambda d: (d.policy, d.uid)):
        requests = asked.get(decision.event_id, [])
        findings = decision.messages or [a.reason for a in requests]
        table.add_row(decision.policy, decision.uid.rsplit(":", 1)[-1], "\n".join(findings),
                      "\n".join(_asked(a) for a in requests) or "[dim]-[/]")
    return table


def _asked(action: ActionRequest) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted((action.params.get("tags") or {}).items()))
    danger = " [bold red]destructive[/]" if action.destructive else ""
    return f"{action.action}{f' {params}' if params else ''} ({action.mode}){danger}"


def render_intro(console: Console, driver: Any, account: Any) -> None:
    console.rule("[bold]Elava demo")
    console.print(f"Simulated AWS account (moto) at {account.endpoint_url}; driver: [bold]{driver.name}[/]")
    if driver.name == "kafka":
        console.print(f"Topics: {driver.topics.prefix}.*  (inspect them in Kafka UI)")


def render_step(console: Console, number: int, act: Any) -> None:
    console.print()
    console.rule(f"[bold]{number}. {act.title}", align="left")
    if act.partial:
        console.print("[yellow]partial scan: some types failed; no deletions were inferred for them[/]")
    if not act.result.changes:
        console.print("[dim]no changes[/]")
        return
    console.print(changes_table(act.result.changes, act.result.drift))
    for line in patterns_lines(act.result.patterns):
        console.print(line)
    if act.result.decisions:
        console.print(policy_table(act.result.decisions, act.result.actions))
    if act.result.waste:
        from elava.cli.waste import findings_table

        console.print(findings_table(act.result.waste))


def render_summary(console: Console, played: list, seconds: float) -> None:
    changes = sum(len(a.result.changes) for a in played)
    drift = sum(len(a.result.drift) for a in played)
    out_of_band = sum(d.out_of_band for a in played for d in a.result.drift)
    patterns = sum(len(a.result.patterns) for a in played)
    findings = sum(len(a.result.decisions) for a in played)
    actions = sum(len(a.result.actions) for a in played)
    waste = sum(len(a.result.waste) for a in played)
    console.print()
    console.rule()
    console.print(f"{len(played)} scans, {_count(changes, 'change')}, {_count(drift, 'drift event')} "
                  f"({out_of_band} out-of-band), {_count(patterns, 'pattern')}, "
                  f"{_count(findings, 'policy finding')} asking for {_count(actions, 'action')}, "
                  f"{_count(waste, 'waste finding')} in {seconds:.1f}s.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def step_json(number: int, act: Any) -> dict[str, Any]:
    return {
        "act": number, "title": act.title, "partial": act.partial,
        "changes": [c.model_dump(mode="json") for c in act.result.changes],
        "drift": [d.model_dump(mode="json") for d in act.result.drift],
        "patterns": [p.model_dump(mode="json") for p in act.result.patterns],
        "policy_decisions": [d.model_dump(mode="json") for d in act.result.decisions],
        "actions": [a.model_dump(mode="json") for a in act.result.actions],
        "waste": [w.model_dump(mode="json") for w in act.result.waste],
    }


def ocsf_lines(events: list[dict[str, Any]]) -> list[str]:
    """OCSF events as JSON lines, in time order (what a SIEM's file or HTTP input takes)."""
    ordered = sorted(events, key=lambda e: (e["time"], e["class_uid"], e["metadata"]["uid"]))
    return [orjson.dumps(event).decode() for event in ordered]


def topic_catalog_table(topics: Any) -> Table:
    table = make_table("topic", "key", "cleanup", "retention", "what it carries")
    for name, spec in topics.all():
        days = f"{spec.retention_ms // 86_400_000}d" if spec.retention_ms else "forever"
        table.add_row(name, spec.key, spec.cleanup_policy, days, spec.description)
    return table


def scan_report_table(scans: list) -> Group:
    """Per account (a table each), per region and type: ok or failed, how many, how many AWS calls."""
    return Group(*(_scan_table(scan.report) for scan in scans))


def _scan_table(report: Any) -> Table:
    table = make_table("region", "type", "status", "found", "calls", "error", whole=("region", "type"),
                       title=f"scan of account {report.account}")
    for result in sorted(report.results.values(), key=lambda r: (r.region, r.type)):
        status = "[green]ok[/]" if result.status == "ok" else f"[bold red]failed ({result.error_class})[/]"
        table.add_row(result.region, result.type, status, str(result.count), str(result.calls), result.error or "")
    return table


def print_scan_report(console: Console, scans: list) -> None:
    """The per account/region/type table, then a line per account that could not be scanned."""
    console.print(scan_report_table(scans))
    for line in unscanned_accounts(scans):
        console.print(f"[yellow]{line}[/]", markup=True, highlight=False)


def unscanned_accounts(scans: list) -> list[str]:
    """One line per account of which nothing could be scanned (its role, STS, its keys)."""
    lines = []
    for scan in scans:
        results = list(scan.report.results.values())
        if results and all(result.status != "ok" for result in results):
            first = results[0]
            lines.append(f"account {scan.report.account} not scanned ({first.error_class}): {first.error}")
    return lines


def resources_table(resources: list) -> Table:
    from streams.analyzers.risk import risks

    table = make_table("type\nid", "name", "account\nregion", "owner", "risk", whole=("type\nid", "account\nregion"))
    for r in sorted(resources, key=lambda r: (r.type, r.account, r.region, r.id)):
        owner = r.tags.get("owner") or r.tags.get("Owner") or "[yellow]untracked[/]"
        table.add_row(f"{r.type}\n{r.id}", r.name or "", f"{r.account}\n{r.region}", owner, ", ".join(risks(r)))
    return table


def resource_json(resource: Any) -> dict[str, Any]:
    return {"uid": resource.uid, "type": resource.type, "id": resource.id, "name": resource.name,
            "account": resource.account, "region": resource.region, "tags": resource.tags,
            "attributes": resource.attributes}
