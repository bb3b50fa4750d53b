"""`elava watch`: scan on a loop in-process, with CloudTrail attribution (streams/drivers/embedded/watch.py)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from elava.cli.common import console, err_console, settings_or_exit
from elava.cli.errors import ERROR, OK, PARTIAL, describe
from elava.cli.render import (
    changes_table,
    label,
    make_table,
    policy_table,
    scan_report_table,
    unscanned_accounts,
)
from elava.settings import Settings
from streams.drivers.embedded.watch import Cycle, Watch

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read (default: ./elava.yaml or $ELAVA_CONFIG).")]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (e.g. a moto server).")]
RegionOpt = Annotated[list[str] | None, typer.Option("--region", "-r", help="Region to scan (repeatable).")]
TypeOpt = Annotated[list[str] | None, typer.Option("--type", "-t", help="Resource type (repeatable).")]


def watch(config: ConfigOpt = None, endpoint_url: EndpointOpt = None, region: RegionOpt = None, type_: TypeOpt = None,
          interval: Annotated[float, typer.Option(min=1, help="Seconds to wait between one cycle and the next.")] = 300,
          once: Annotated[bool, typer.Option("--once", help="One cycle, then exit (for cron): 3 if partial, 1 if failed.")] = False,
          trail: Annotated[bool, typer.Option(help="Read CloudTrail (cloudtrail.sources) for who made each change.")] = True,
          output: Annotated[str, typer.Option(help="table, json (the events, one per line) or ocsf.")] = "table") -> None:
    """Scan on a loop in-process (no Kafka) into the local store, and attribute each change from
    CloudTrail (LookupEvents; cloudtrail.sources): `elava scan` that keeps going. Ctrl-C stops it."""
    if output not in ("table", "json", "ocsf"):
        raise typer.BadParameter("table, json or ocsf", param_hint="--output")
    settings = settings_or_exit(config, providers__aws__endpoint_url=endpoint_url, providers__aws__regions=region)
    # A source that fails is reported once per cycle below, not also as a log warning.
    logging.getLogger("collectors.cloudtrail.service").setLevel(logging.ERROR)
    runner = Watch(settings, interval, type_, with_trail=trail)
    last = asyncio.run(_until_stopped(runner, once, lambda cycle: show(settings, cycle, output)))
    if not once:
        err_console.print("stopped")
    raise typer.Exit(code=exit_code(last) if once else OK)


async def _until_stopped(runner: Watch, once: bool, on_cycle: Any) -> Cycle | None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await runner.run(stop, on_cycle, once=once)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def exit_code(cycle: Cycle | None) -> int:
    if cycle is None or cycle.error is not None or cycle.cancelled:
        return ERROR
    return PARTIAL if cycle.partial else OK


def show(settings: Settings, cycle: Cycle, output: str) -> None:
    if cycle.cancelled:
        err_console.print(f"cycle {cycle.number} stopped before it finished; nothing was deleted from it")
        return
    if cycle.error is not None:
        err_console.print(f"[bold red]cycle {cycle.number} failed:[/] {describe(cycle.error)[0]}", highlight=False)
    for name, failure in sorted((cycle.trail.failures if cycle.trail else {}).items()):
        err_console.print(f"[yellow]CloudTrail {name}: {failure}[/]", highlight=False)
    if cycle.scan is None:
        return
    if output == "ocsf":
        from elava.cli.scan import print_ocsf

        print_ocsf(settings, cycle.scan.outputs)
    elif output == "json":
        print_events(cycle)
    else:
        print_cycle(cycle)
    if cycle.partial:
        for line in unscanned_accounts(cycle.scan.scans):
            err_console.print(f"[yellow]{line}[/]", highlight=False)
        err_console.print(f"[yellow]cycle {cycle.number}: partial scan: failed types keep their last known state "
                          "(no deletions inferred)[/]")


def print_events(cycle: Cycle) -> None:
    """Every event of the cycle, as the pipeline would publish it, one JSON object per line."""
    out = cycle.scan.outputs
    for kind, events in (("change", out.changes), ("attributed-change", out.attributed), ("drift", out.drift),
                         ("policy-decision", out.decisions), ("action", out.actions)):
        for event in events:
            print(orjson.dumps({"cycle": cycle.number, "event": kind, **event.model_dump(mode="json")}).decode())


def print_cycle(cycle: Cycle) -> None:
    out = cycle.scan.outputs
    read = sum((cycle.trail.published if cycle.trail else {}).values())
    console.print(f"[bold]cycle {cycle.number}[/] {cycle.started_at:%Y-%m-%d %H:%M:%S} UTC: "
                  f"{len(cycle.scan.resources)} resources, {len(out.changes)} changes, "
                  f"{read} CloudTrail events read", highlight=False)
    if cycle.partial:
        console.print(scan_report_table(cycle.scan.scans))
    if out.changes:
        console.print(changes_table(out.changes, out.drift))
    if out.attributed:
        console.print(attribution_table(out.attributed))
    if out.decisions:
        console.print(policy_table(out.decisions, out.actions))


def attribution_table(attributed: list) -> Any:
    """Who made each change (again, when CloudTrail explained an older one better)."""
    table = make_table("resource", "version", "who", "confidence", "how", whole=("resource",))
    for item in attributed:
        change, actor = item.change, item.actor
        who = f"{actor.arn or actor.name or 'unknown'} ({actor.kind})"
        how = "tags (provisional)" if item.provisional else "cloudtrail"
        table.add_row(label(change), f"v{change.new_version}", who, f"{item.confidence:.2f}", how)
    return table


def register(app: typer.Typer) -> None:
    app.command()(watch)
