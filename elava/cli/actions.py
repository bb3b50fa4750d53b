"""`elava actions`: the executor's audit trail, read from the action-results topic."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from elava.cli.common import console, settings_or_exit
from elava.cli.queries import Output, json_lines, moment
from elava.events import ActionResult

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read (default: ./elava.yaml or $ELAVA_CONFIG).")]
BootstrapOpt = Annotated[str | None, typer.Option("--bootstrap-servers", "-b", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092.")]


def register(app: typer.Typer) -> None:
    app.command()(actions)


def actions(since: Annotated[str | None, typer.Option(help="From this time: ISO-8601 or how long ago (90m, 2h, 3d).")] = None,
            uid: Annotated[str | None, typer.Option(help="Only this resource (its uid, or its id).")] = None,
            output: Annotated[Output, typer.Option("--output", "-o", help="table, or json (one object per line).")] = Output.table,
            config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None) -> None:
    """What the executor did: each action result, who acted in AWS, with which request ids."""
    from streams.drivers.executor.results import read_results

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    results = asyncio.run(read_results(settings, moment(since, "--since"), uid))
    if output is Output.json:
        json_lines(result.model_dump(mode="json") for result in results)
        return
    console.print(results_table(results))


def results_table(results: list[ActionResult]) -> Table:
    table = Table(title=f"{len(results)} action result{'' if len(results) == 1 else 's'}")
    for column in ("finished (UTC)", "status", "action", "resource", "policy", "principal", "AWS request ids",
                   "detail"):
        table.add_column(column, overflow="fold")
    for result in results:
        table.add_row(f"{result.finished_at:%Y-%m-%d %H:%M:%S}", _status(result), result.action,
                      result.uid.rsplit("/", 1)[-1].rsplit(":", 1)[-1], result.policy, result.principal or "",
                      ", ".join(call.request_id for call in result.aws_calls), result.detail)
    return table


def _status(result: ActionResult) -> str:
    return f"{result.status} (dry-run)" if result.dry_run and result.status not in ("rejected", "monitored") \
        else result.status
