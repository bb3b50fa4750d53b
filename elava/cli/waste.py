"""`elava waste`: the waste findings still open, from the local store or from the workers.

The local store is the one `elava scan` keeps (opened read-only). ``--api URL`` (or
``api.url``) asks the workers' query API (``/v1/waste``) instead: any worker answers for
the whole group (elava/cli/remote.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from elava.analyzer_events import WasteFinding
from elava.cli.common import console
from elava.cli.queries import ConfigOpt, Output, OutputOpt, json_lines
from elava.cli.remote import ApiOpt, query_source
from elava.waste_rules import RULE_NAMES
from streams.store.api import MAX_LIMIT


def register(app: typer.Typer) -> None:
    app.command()(waste)


def waste(type_: Annotated[str | None, typer.Option("--type", help="Only this type, e.g. ec2.volume.")] = None,
          reason: Annotated[str | None, typer.Option(help=f"Only this rule: {', '.join(RULE_NAMES)}.")] = None,
          output: OutputOpt = Output.table, api: ApiOpt = None, config: ConfigOpt = None) -> None:
    """Idle, orphaned and oversized resources: each open finding, its evidence and pricing units."""
    if reason is not None and reason not in RULE_NAMES:
        raise typer.BadParameter(f"{reason!r} is not a rule; the rules are {', '.join(RULE_NAMES)}",
                                 param_hint="--reason")
    params = {"limit": str(MAX_LIMIT), **{k: v for k, v in (("type", type_), ("reason", reason)) if v}}
    with query_source(config, api) as source:
        findings = [WasteFinding.model_validate(item) for item in source.ask("/v1/waste", params)]
    if output is Output.json:
        json_lines(finding.model_dump(mode="json") for finding in findings)
        return
    console.print(findings_table(findings))


def _short(uid: str) -> str:
    return uid.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _units(units: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in units.items())


def findings_table(findings: list[WasteFinding]) -> Table:
    table = Table(title=f"{len(findings)} waste finding{'' if len(findings) == 1 else 's'}")
    for column in ("type", "resource", "rule", "why", "since", "units"):
        table.add_column(column, overflow="fold")
    for f in findings:
        since = f.since.strftime("%Y-%m-%d %H:%M") if f.since else ""
        table.add_row(f.type, _short(f.uid), f.pattern, f.reason + (f" (lacking: {'; '.join(f.lacking)})"
                                                                     if f.lacking else ""), since, _units(f.units))
    return table



