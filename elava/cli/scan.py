"""`elava scan`: run the embedded scan and print what exists, what changed, what failed."""

from __future__ import annotations

import asyncio

import orjson

from collectors.aws import registry
from elava.cli.common import console, err_console
from elava.cli.progress import ScanProgress
from elava.cli.render import (
    changes_table,
    policy_table,
    resource_json,
    resources_table,
    scan_report_table,
    unscanned_accounts,
)
from elava.embedded import embedded_scan
from elava.settings import Settings
from streams.analyzers.risk import high_risk_untracked, is_tracked, risks


def _types_per_scope(type_names: list[str] | None) -> dict[str, int]:
    types = registry.select(type_names)
    global_count = sum(1 for t in types if t.global_service)
    return {"global": global_count, "regional": len(types) - global_count}


def run_scan_command(settings: Settings, type_names: list[str] | None, tier_names: list[str] | None,
                     risk_only: bool, output: str) -> int:
    if output == "json":
        result = asyncio.run(embedded_scan(settings, type_names, tier_names))
    else:
        with ScanProgress.bars() as bars:
            progress = ScanProgress(bars, _types_per_scope(type_names))
            result = asyncio.run(embedded_scan(settings, type_names, tier_names, progress))
    resources = [r for r in result.resources if high_risk_untracked(r)] if risk_only else result.resources
    if output == "json":
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
