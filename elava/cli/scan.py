"""`elava scan`: run the embedded scan and print what exists, what changed, what failed."""

from __future__ import annotations

import asyncio

import orjson

from elava.catalogue import registry
from elava.cli.common import console, err_console
from elava.cli.progress import ScanProgress
from elava.cli.render import (
    changes_table,
    ocsf_lines,
    policy_table,
    resource_json,
    resources_table,
    scan_report_table,
    unscanned_accounts,
)
from elava.settings import Settings
from streams.analyzers.risk import high_risk_untracked, is_tracked, risks
from streams.drivers.embedded.scan import embedded_scan


def _types_per_scope(type_names: list[str] | None) -> dict[str, int]:
    types = registry.select(type_names)
    global_count = sum(1 for t in types if t.global_service)
    return {"global": global_count, "regional": len(types) - global_count}


def run_scan_command(settings: Settings, type_names: list[str] | None, tier_names: list[str] | None,
                     risk_only: bool, output: str) -> int:
    """One scan, printed; its exit code."""
    return _scan_and_print(settings, type_names, tier_names, risk_only, output)


def _scan_and_print(settings: Settings, type_names: list[str] | None, tier_names: list[str] | None,
                    risk_only: bool, output: str) -> int:
    if output in ("json", "ocsf"):
        result = asyncio.run(embedded_scan(settings, type_names, tier_names))
    else:
        with ScanProgress.bars() as bars:
            progress = ScanProgress(bars, _types_per_scope(type_names))
            result = asyncio.run(embedded_scan(settings, type_names, tier_names, progress))
    resources = [r for r in result.resources if high_risk_untracked(r)] if risk_only else result.resources
    if output == "ocsf":
        print_ocsf(settings, result.outputs)
    elif output == "json":
        for resource in resources:
            record = {**resource_json(resource), "tracked": is_tracked(resource), "risks": risks(resource)}
            print(orjson.dumps(record).decode())
    else:
        if result.layout_moved:
            console.print(f"store layout: {result.layout_moved} memberships moved to "
                          f"kafka.shard_buckets={settings.kafka.shard_buckets}", highlight=False)
        console.print(resources_table(resources))
        console.print(scan_report_table(result.scans))
        if result.outputs.changes and not risk_only:
            console.print(changes_table(result.outputs.changes, result.outputs.drift))
        if result.outputs.decisions and not risk_only:
            console.print(policy_table(result.outputs.decisions, result.outputs.actions))
    if result.partial:
        for line in unscanned_accounts(result.scans):
            err_console.print(f"[yellow]{line}[/]", markup=True, highlight=False)
        err_console.print("[yellow]partial scan: failed or undelivered types keep their last known state (no deletions inferred)[/]")
        return 3
    return 0


def print_ocsf(settings: Settings, outputs) -> None:
    """Drift, out-of-band changes and policy findings of this scan as OCSF JSON lines (docs/siem.md)."""
    from streams.siem.ocsf import ocsf_events_for
    from streams.siem.policies import policy_severities

    severities = policy_severities(settings.policies)
    events = [*outputs.drift, *outputs.attributed, *outputs.decisions]
    for line in ocsf_lines([ocsf for event in events for ocsf in ocsf_events_for(event, severities)]):
        print(line)
