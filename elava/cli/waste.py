"""`elava waste`: the waste findings still open, from the local store or from workers.

The local store is the one `elava scan` keeps (opened read-only). ``--worker URL`` asks
a worker's query API (``/v1/waste``) instead; each worker answers for the partitions it
holds, so give every worker of the group (``--worker`` again) for the whole list.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from elava.analyzer_events import WasteFinding
from elava.cli.common import console, settings_or_exit
from elava.cli.queries import ConfigOpt, Output, OutputOpt, fail, json_lines
from elava.settings import Settings
from elava.waste_rules import RULE_NAMES


def register(app: typer.Typer) -> None:
    app.command()(waste)


def waste(type_: Annotated[str | None, typer.Option("--type", help="Only this type, e.g. ec2.volume.")] = None,
          reason: Annotated[str | None, typer.Option(help=f"Only this rule: {', '.join(RULE_NAMES)}.")] = None,
          worker: Annotated[list[str] | None, typer.Option(
              help="Ask this worker's query API (http://host:6066) instead of the local store; repeat for each.")]
          = None,
          output: OutputOpt = Output.table, config: ConfigOpt = None) -> None:
    """Idle, orphaned and oversized resources: each open finding, its evidence and pricing units."""
    if reason is not None and reason not in RULE_NAMES:
        raise typer.BadParameter(f"{reason!r} is not a rule; the rules are {', '.join(RULE_NAMES)}",
                                 param_hint="--reason")
    settings = settings_or_exit(config)
    findings = from_workers(settings, worker, type_, reason) if worker else from_store(settings, type_, reason)
    if output is Output.json:
        json_lines(finding.model_dump(mode="json") for finding in findings)
        return
    console.print(findings_table(findings))


def from_store(settings: Settings, type_: str | None, reason: str | None) -> list[WasteFinding]:
    from streams.store.kv import RocksKV
    from streams.store.waste import WasteFilter, current_findings

    kv = RocksKV(settings.storage.path, read_only=True)  # StoreError: one line, exit 1
    try:
        return current_findings(kv, WasteFilter(type_, reason))
    finally:
        kv.close()


def from_workers(settings: Settings, urls: list[str], type_: str | None, reason: str | None) -> list[WasteFinding]:
    query = urllib.parse.urlencode({k: v for k, v in (("type", type_), ("reason", reason)) if v})
    found: dict[tuple[str, str], WasteFinding] = {}
    for url in urls:
        for item in _get(settings, f"{url.rstrip('/')}/v1/waste?{query}"):
            finding = WasteFinding.model_validate(item)
            found[(finding.uid, finding.pattern)] = finding
    return sorted(found.values(), key=lambda f: (f.type, f.pattern, f.uid))


def _get(settings: Settings, url: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(url)
    if settings.worker.api_token is not None:
        request.add_header("Authorization", f"Bearer {settings.worker.api_token.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return orjson.loads(answer.read())
    except urllib.error.HTTPError as exc:
        fail(f"{url}: the worker answered {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        fail(f"{url}: no answer from the worker ({getattr(exc, 'reason', exc)})")


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



