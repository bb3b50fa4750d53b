"""`elava executor`: carry out the actions policies ask for (dry-run unless told otherwise)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from elava.cli.common import console, err_console, settings_or_exit
from elava.settings import Settings
from elava.telemetry import configure as configure_telemetry

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read (default: ./elava.yaml or $ELAVA_CONFIG).")]
BootstrapOpt = Annotated[str | None, typer.Option("--bootstrap-servers", "-b", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092.")]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (e.g. a moto server).")]
EnforceOpt = Annotated[bool, typer.Option(
    "--enforce", help="Really change AWS for actions in enforce mode (sets executor.dry_run to false).")]


def register(app: typer.Typer) -> None:
    app.command()(executor)


def executor(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None, endpoint_url: EndpointOpt = None,
             enforce: EnforceOpt = False, loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO") -> None:
    """Run the executor: action requests in, action results out (dry-run by default)."""
    from elava.kafka.clients import ensure_topics
    from streams.drivers.executor.service import run_executor, startup_keyring

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers,
                                providers__aws__endpoint_url=endpoint_url,
                                executor__dry_run=False if enforce else None)
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(ensure_topics(settings.kafka))  # an unreachable broker: one line, before anything else
    startup_keyring(settings)  # an enforcing executor without a key stops here, naming the setting
    announce_mode(settings)
    configure_telemetry(settings.telemetry, "executor")
    asyncio.run(_serve(settings, run_executor))


def announce_mode(settings: Settings) -> None:
    executor_settings = settings.executor
    if executor_settings.dry_run:
        console.print("[bold]executor in DRY-RUN[/]: nothing in AWS is changed; results say what would be done "
                      "(--enforce to change AWS)")
        return
    err_console.print(
        "[bold red]WARNING: executor in ENFORCE mode: actions in enforce mode CHANGE AWS.[/]\n"
        f"[red]Destructive actions run {executor_settings.grace_period} after their announcement; "
        f"resources tagged '{executor_settings.protect_tag}' are never changed.[/]", highlight=False)


async def _serve(settings: Settings, run) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)
