"""`elava fleet serve`: the fleet-pattern stage (streams/drivers/worker/fleet_stage.py) — re-created under
a name and bursts of changes by one actor, published on elava.patterns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from elava.cli.common import err_console, settings_or_exit

fleet_app = typer.Typer(help="Patterns across resources (re-created under a name, bursts).", no_args_is_help=True)


def serve(config: Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read.")] = None,
          bootstrap_servers: Annotated[str | None, typer.Option(
              "--bootstrap-servers", "-b", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092.")] = None,
          loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
          ready_fd: Annotated[int | None, typer.Option(hidden=True, help="Write 'ready' here once started.")] = None,
          with_parent: Annotated[bool, typer.Option(hidden=True, help="Stop when the parent process is gone.")] = False,
          ) -> None:
    """Run the fleet-pattern stage: attributed changes of every partition in, patterns out. Run one
    (it reads every partition); `elava worker` runs it itself unless analyzer.patterns.fleet_stage_in_worker is false."""
    import asyncio
    import logging

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    if not settings.analyzer.patterns.enabled:
        err_console.print("[bold red]error:[/] patterns are off (analyzer.patterns.enabled: false)", highlight=False)
        raise typer.Exit(code=2)
    if with_parent:
        from elava.processes.policy_supervisor import yield_cpu_to_worker

        yield_cpu_to_worker(settings)
    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    from elava.kafka.clients import ensure_topics
    from streams.drivers.worker.fleet_stage import serve as serve_stage

    if not with_parent:  # a child of `elava worker` finds them made
        asyncio.run(ensure_topics(settings.kafka))
    asyncio.run(serve_stage(settings, ready_fd, with_parent))


def register(app: typer.Typer) -> None:
    fleet_app.command("serve")(serve)
    app.add_typer(fleet_app, name="fleet")
