"""`elava dlq list | replay`: what was put aside and why; send it back once the cause is fixed.

See docs/operations.md (Dead letters) for what a DLQ entry keeps and how replay stays
idempotent.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from elava.cli.common import console, err_console, settings_or_exit

dlq_app = typer.Typer(help="Dead letters: list them, replay them.", no_args_is_help=True)


class Output(StrEnum):
    table = "table"
    json = "json"


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read.")]
BootstrapOpt = Annotated[str | None, typer.Option("--bootstrap-servers", "-b", help="Kafka bootstrap servers.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Only entries whose reason contains this (any case).")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Only entries dead-lettered since: ISO-8601 or how long ago (90m, 2h, 3d).")]
TopicOpt = Annotated[str | None, typer.Option(
    "--topic", help="Only entries from this source topic (full name, or e.g. observations).")]


def _selection(reason: str | None, since: str | None, topic: str | None):
    from elava.timeparse import parse_time
    from streams.dlq import Selection

    try:
        moment = parse_time(since) if since else None
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] --since: {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    return Selection(reason=reason, since=moment, topic=topic)


def list_entries(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None, reason: ReasonOpt = None,
                 since: SinceOpt = None, topic: TopicOpt = None,
                 output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.table,
                 ) -> None:
    """The DLQ's entries: where each came from, when, why, and whether it was replayed."""
    from streams.drivers.dlq_replay import read_entries, read_replayed

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    selection = _selection(reason, since, topic)

    async def read() -> tuple[list[Any], dict[str, Any]]:
        return await read_entries(settings.kafka, selection), await read_replayed(settings.kafka)

    entries, replayed = asyncio.run(read())
    if output is Output.json:
        for entry in entries:
            typer.echo(orjson.dumps(entry_json(entry, replayed.get(entry.ref))).decode())
        return
    console.print(_entries_table(entries, replayed))


def entry_json(entry: Any, replayed: dict[str, Any] | None) -> dict[str, Any]:
    return {"entry": entry.ref, "dlq_partition": entry.dlq_partition, "dlq_offset": entry.dlq_offset,
            "time": _iso(entry.time), "topic": entry.topic, "partition": entry.partition, "offset": entry.offset,
            "reason": entry.reason, "by": entry.by, "key": _text(entry.key),
            "headers": [[name, _text(value)] for name, value in entry.headers],
            "value": _text(entry.value), "replay_of": entry.replay_of, "replayed": replayed}


def _entries_table(entries: list[Any], replayed: dict[str, Any]) -> Table:
    table = Table(caption=None if entries else "the DLQ is empty (or nothing matches)")
    for column in ("entry", "time (UTC)", "source", "reason", "key", "replayed"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        done = replayed.get(entry.ref)
        table.add_row(entry.ref, entry.time.strftime("%Y-%m-%d %H:%M:%S") if entry.time else "",
                      f"{entry.topic}[{entry.partition}]@{entry.offset}", entry.reason, _text(entry.key) or "",
                      done["replayed_at"][:19].replace("T", " ") if done else "")
    return table


def replay(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None, reason: ReasonOpt = None,
           since: SinceOpt = None, topic: TopicOpt = None,
           dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent; send nothing.")] = False,
           again: Annotated[bool, typer.Option("--again", help="Also send entries that were replayed before.")] = False,
           ) -> None:
    """Send entries back to their source topic with their original key and headers."""
    from streams.drivers.dlq_replay import replay as replay_entries

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    selection = _selection(reason, since, topic)
    report = asyncio.run(replay_entries(settings.kafka, selection, again=again, dry_run=dry_run))
    verb = "would replay" if dry_run else "replayed"
    for entry in report.replayed:
        console.print(f"{verb} {entry.ref} -> {entry.topic}  ({entry.reason})", highlight=False, markup=False)
    for entry, why in report.refused:
        err_console.print(f"[yellow]refused[/] {entry.ref}: {why}", highlight=False)
    skipped = f", {len(report.already)} already replayed (--again to send them again)" if report.already else ""
    refused = f", {len(report.refused)} refused" if report.refused else ""
    console.print(f"{len(report.replayed)} {verb}{skipped}{refused}", highlight=False)


def _text(data: bytes | None) -> str | None:
    """UTF-8 as it is; anything else as ``base64:...`` so JSON output stays lossless."""
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def register(app: typer.Typer) -> None:
    dlq_app.command("list")(list_entries)
    dlq_app.command("replay")(replay)
    app.add_typer(dlq_app, name="dlq")
