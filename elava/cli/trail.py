"""`elava trail explain FILE`: what attribution makes of CloudTrail records;
`elava trail collect`: the CloudTrail sources of the settings, onto Kafka.

FILE is a raw record, an EventBridge event, a CloudTrail log file (gzipped or not),
a LookupEvents answer or JSON Lines. For each record: who (the normalised actor) and
which observed resources it touched, with the uids their collectors give them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from elava.cli.common import console, err_console

trail_app = typer.Typer(help="CloudTrail records: who changed what.", no_args_is_help=True)


class Output(StrEnum):
    table = "table"
    json = "json"


FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CloudTrail record, EventBridge event, log file (.json or .json.gz).")]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table, or json (one object per record).")]


def _actor_cell(actor: dict[str, Any]) -> str:
    name = actor["name"] or "?"
    role = f"\nrole {actor['role']}" if actor["role"] and actor["role"] != actor["name"] else ""
    return f"{name}{role}\n[dim]{actor['type']}[/]"


def _resources_cell(explained: dict[str, Any], why_none: str | None) -> str:
    if explained["resources"]:
        return "\n".join(f"{r['type']}  {r['uid']}" for r in explained["resources"])
    return f"[dim]none ({why_none or 'no mapped event family'})[/]"


def _table(rows: list[tuple[dict[str, Any], str | None]]) -> Table:
    table = Table(show_lines=True)
    for column in ("time", "event", "actor", "kind / via"):
        table.add_column(column)
    table.add_column("resources touched", overflow="fold")  # uids are what to copy: never cut them
    for explained, why_none in rows:
        actor = explained["actor"]
        table.add_row(explained["event_time"], f"{explained['event_name']}\n[dim]{explained['event_source']}[/]",
                      _actor_cell(actor), f"{actor['kind']}\n{actor['via'] or '-'}",
                      _resources_cell(explained, why_none))
    return table


def _explained(located: Any) -> tuple[dict[str, Any], str | None] | str:
    """A record explained (with why it touched nothing, if so), or the reason it cannot be."""
    from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
    from collectors.cloudtrail.normalize.records import explain as explain_record
    from collectors.cloudtrail.normalize.resources import why_nothing_changed

    if located.problem is not None:
        return located.problem
    try:
        return explain_record(located.record), why_nothing_changed(located.record)
    except (UnreadableTrail, ValueError, TypeError, AttributeError) as exc:  # a record of an odd shape
        return str(exc) or type(exc).__name__


def explain(file: FileArg, output: OutputOpt = Output.table) -> None:
    """Who made each CloudTrail call in FILE, and which observed resources it touched.

    Every readable record is explained; each one that is not is named on stderr (its line, or
    its jq path in a JSON document) with the reason, and the exit code is then 1."""
    from collectors.cloudtrail.normalize.records import located_records

    rows, bad = [], []
    for located in located_records(file.read_bytes()):
        result = _explained(located)
        if isinstance(result, str):
            bad.append((located.where, result))
        else:
            rows.append(result)
    if output is Output.json:
        for explained, _ in rows:
            typer.echo(orjson.dumps(explained).decode())
    elif rows:
        console.print(_table(rows))
    for where, reason in bad:
        err_console.print(f"[bold red]error:[/] {file}: {where}: {reason}", highlight=False, soft_wrap=True)
    if bad:
        err_console.print(f"{len(rows)} records explained, {len(bad)} could not be read", highlight=False)
        raise typer.Exit(code=1)


def collect(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read.")] = None,
    bootstrap_servers: Annotated[str | None, typer.Option(
        "--bootstrap-servers", "-b", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092.")] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        "--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (e.g. a moto server).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Poll each source once (drain the queue) and exit.")] = False,
) -> None:
    """Read CloudTrail (cloudtrail.sources: lookup, eventbridge, s3) and publish TrailEvents to Kafka."""
    import asyncio
    import signal

    from collectors.cloudtrail.service import run_trail_collector
    from elava.cli.common import settings_or_exit

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers,
                                providers__aws__endpoint_url=endpoint_url)

    async def run():
        stop = asyncio.Event()
        if not once:
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        return await run_trail_collector(settings, once=once, stop=stop)

    report = asyncio.run(run())
    for name, count in sorted(report.published.items()):
        console.print(f"{name}: {count} trail events", highlight=False)
    for name, error in sorted(report.failures.items()):
        err_console.print(f"[yellow]failed[/] {name}: {error}", highlight=False)
    raise typer.Exit(code=3 if report.failures else 0)


def register(app: typer.Typer) -> None:
    trail_app.command()(explain)
    trail_app.command()(collect)
    app.add_typer(trail_app, name="trail")
