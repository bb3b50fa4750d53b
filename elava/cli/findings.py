"""`elava drift` and `elava patterns`: what the analyzers found, from the local store or a worker.

Without ``--worker`` they read the embedded store at ``storage.path`` (read-only, as
`elava history` does); with ``--worker http://host:6066`` they ask that worker's query
API (``/v1/drift``, ``/v1/patterns``), sending ``worker.api_token`` when it is set. A
worker answers for the partitions it holds.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.cli.common import console, settings_or_exit
from elava.cli.queries import ConfigOpt, Output, OutputOpt, UntilOpt, fail, json_lines, moment, reading

SinceOpt = Annotated[str, typer.Option(help="From this time: ISO-8601 or how long ago (90m, 2h, 3d).")]
WorkerOpt = Annotated[str | None, typer.Option(
    "--worker", help="Ask this worker's query API (e.g. http://127.0.0.1:6066) instead of the local store.")]
SEVERITIES = ("info", "low", "medium", "high", "critical")
TIMEOUT_SECONDS = 30


def ask_worker(base: str, path: str, params: dict[str, str], token: str | None) -> list[dict[str, Any]]:
    """GET ``base + path`` with ``params``; a refusal or an error ends the command with its reason."""
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 (the user's URL)
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        fail(f"{url}: HTTP {exc.code}: {_error_of(detail)}")
    except (urllib.error.URLError, OSError) as exc:
        fail(f"cannot reach the worker at {base}: {getattr(exc, 'reason', exc)}")


def _error_of(detail: str) -> str:
    try:
        return json.loads(detail).get("error", detail)
    except (ValueError, AttributeError):
        return detail


def _window(since: str, until: str | None) -> tuple[datetime, datetime]:
    end = moment(until, "--until", default=datetime.now(UTC))
    return moment(since, "--since"), end


def _found(config: Path | None, worker: str | None, path: str, params: dict[str, str], local) -> list[dict]:
    if worker is not None:
        token = settings_or_exit(config).worker.api_token
        return ask_worker(worker, path, params, token.get_secret_value() if token else None)
    with reading(config) as queries:
        return [event.model_dump(mode="json") for event in local(queries.store)]


def drift(since: SinceOpt = "24h", until: UntilOpt = None,
          severity: Annotated[str, typer.Option(help="At this severity or worse: " + ", ".join(SEVERITIES))] = "info",
          type_: Annotated[str, typer.Option("--type", "-t", help="Only these types: a type or a glob (ec2.*).")] = "*",
          output: OutputOpt = Output.table, worker: WorkerOpt = None, config: ConfigOpt = None) -> None:
    """Drift found since --since: severity, the rules that set it, out-of-band changes and who made them."""
    from streams.analyzers.reports import drift_report

    if severity not in SEVERITIES:
        raise typer.BadParameter(f"one of {', '.join(SEVERITIES)}", param_hint="--severity")
    start, end = _window(since, until)
    params = {"since": start.isoformat(), "until": end.isoformat(), "severity": severity, "type": type_}
    rows = _found(config, worker, "/v1/drift", params,
                  lambda store: drift_report(store, start, end, severity, type_))
    if output is Output.json:
        json_lines(rows)
        return
    found = [DriftEvent.model_validate(row) for row in rows]
    if found:
        console.print(drift_table(found))
    console.print(f"{len(found)} drift ({sum(d.out_of_band for d in found)} out-of-band)")


def patterns(since: SinceOpt = "24h", until: UntilOpt = None,
             pattern: Annotated[str | None, typer.Option(
                 help="Only this pattern: recreated, short-lived, flapping, schedule, burst.")] = None,
             output: OutputOpt = Output.table, worker: WorkerOpt = None, config: ConfigOpt = None) -> None:
    """Lifecycle patterns found since --since: re-created, short-lived, flapping, scheduled resources, bursts."""
    from streams.analyzers.reports import pattern_report

    start, end = _window(since, until)
    params = {"since": start.isoformat(), "until": end.isoformat(), **({"pattern": pattern} if pattern else {})}
    settings = settings_or_exit(config).analyzer.patterns
    rows = _found(config, worker, "/v1/patterns", params,
                  lambda store: pattern_report(store, start, end, settings, pattern))
    if output is Output.json:
        json_lines(rows)
        return
    found = [PatternEvent.model_validate(row) for row in rows]
    if found:
        console.print(patterns_table(found))
    console.print(f"{len(found)} pattern{'' if len(found) == 1 else 's'}")


SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim", "info": "dim"}


def _when(moment_: datetime) -> str:
    return moment_.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def drift_table(found: list[DriftEvent]):
    from elava.cli.render import make_table

    table = make_table("when (UTC)", "severity", "resource", "what changed", "who", "rules", whole=("resource",))
    for d in found:
        who = f"{d.actor.name or d.actor.arn} ({d.confidence:.2f})" if d.actor else "[dim]unknown[/]"
        style = SEVERITY_STYLE.get(d.severity, "white")
        rules = ", ".join(d.rules) + (f"\nowned by {d.owner}" if d.owner else "")
        table.add_row(_when(d.detected_at), f"[{style}]{d.severity}[/]", f"{d.type}\n{d.uid.rsplit('/', 1)[-1]}",
                      d.summary, who, rules)
    return table


def patterns_table(found: list[PatternEvent]):
    from elava.cli.render import make_table

    table = make_table("when (UTC)", "pattern", "about", "what", "evidence", whole=("about",))
    for p in found:
        about = p.name or p.uid.rsplit("/", 1)[-1]
        proof = "\n".join(f"v{e.version} {e.kind} {_when(e.at)}" + (f" by {e.actor}" if e.actor else "")
                          for e in p.evidence[:6]) + (f"\n… {len(p.evidence) - 6} more" if len(p.evidence) > 6 else "")
        table.add_row(_when(p.detected_at), p.pattern, f"{p.type}\n{about}", p.summary, proof)
    return table


def register(app: typer.Typer) -> None:
    app.command()(drift)
    app.command()(patterns)
