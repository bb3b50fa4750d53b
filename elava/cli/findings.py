"""`elava drift` and `elava patterns`: what the analyzers found, from the local store or the workers.

Like `elava history`, they ask the query API (``/v1/drift``, ``/v1/patterns``) through
elava/cli/remote.py: on the embedded store at ``storage.path`` (read-only), or with
``--api URL`` (``api.url``) on the workers of a Kafka pipeline, any of which answers
for the whole group (patterns across resources included).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.cli.common import console
from elava.cli.queries import ConfigOpt, LimitOpt, Output, OutputOpt, UntilOpt, json_lines, limited, moment
from elava.cli.remote import ApiOpt, query_source
from streams.store.api import MAX_LIMIT

SinceOpt = Annotated[str, typer.Option(help="From this time: ISO-8601 or how long ago (90m, 2h, 3d).")]
SEVERITIES = ("info", "low", "medium", "high", "critical")


def _window(since: str, until: str | None) -> dict[str, str]:
    end = moment(until, "--until", default=datetime.now(UTC))
    return {"since": moment(since, "--since").isoformat(), "until": end.isoformat()}


def drift(since: SinceOpt = "24h", until: UntilOpt = None,
          severity: Annotated[str, typer.Option(help="At this severity or worse: " + ", ".join(SEVERITIES))] = "info",
          type_: Annotated[str, typer.Option("--type", "-t", help="Only these types: a type or a glob (ec2.*).")] = "*",
          limit: LimitOpt = MAX_LIMIT, output: OutputOpt = Output.table, api: ApiOpt = None,
          config: ConfigOpt = None) -> None:
    """Drift found since --since: severity, the rules that set it, out-of-band changes and who made them."""
    if severity not in SEVERITIES:
        raise typer.BadParameter(f"one of {', '.join(SEVERITIES)}", param_hint="--severity")
    params = {**_window(since, until), "severity": severity, "type": type_, "limit": str(limit)}
    with query_source(config, api) as source:
        rows = limited(source.ask("/v1/drift", params), limit)
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
             limit: LimitOpt = MAX_LIMIT, output: OutputOpt = Output.table, api: ApiOpt = None,
             config: ConfigOpt = None) -> None:
    """Lifecycle patterns found since --since: re-created, short-lived, flapping, scheduled resources, bursts."""
    params = {**_window(since, until), **({"pattern": pattern} if pattern else {}), "limit": str(limit)}
    with query_source(config, api) as source:  # thresholds of patterns across resources: the answering side's
        rows = limited(source.ask("/v1/patterns", params), limit)
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
