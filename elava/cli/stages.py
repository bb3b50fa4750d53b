"""`elava fleet serve`: the fleet-pattern stage (streams/drivers/worker/fleet_stage.py) — re-created under
a name and bursts of changes by one actor, published on elava.patterns. `elava drift-stage serve`:
the drift stage (streams/drivers/worker/drift_stage.py) — drift of each attributed change, on elava.drift."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from elava.cli.common import err_console, settings_or_exit
from elava.settings import Settings

fleet_app = typer.Typer(help="Patterns across resources (re-created under a name, bursts).", no_args_is_help=True)
drift_stage_app = typer.Typer(help="Drift of each attributed change, off the worker's path.", no_args_is_help=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read.")]
BootstrapOpt = Annotated[str | None, typer.Option(
    "--bootstrap-servers", "-b", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092.")]
LogOpt = Annotated[str, typer.Option(help="Log level.")]
ReadyOpt = Annotated[int | None, typer.Option(hidden=True, help="Write 'ready' here once started.")]
ParentOpt = Annotated[bool, typer.Option(hidden=True, help="Stop when the parent process is gone.")]


def serve(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None, loglevel: LogOpt = "INFO",
          ready_fd: ReadyOpt = None, with_parent: ParentOpt = False) -> None:
    """Run the fleet-pattern stage: attributed changes of every partition in, patterns out. Run one
    (it reads every partition); `elava worker` runs it itself unless analyzer.patterns.fleet_stage_in_worker is false."""
    from streams.drivers.worker.fleet_stage import serve as serve_stage

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    _off_unless(settings.analyzer.patterns.enabled, "patterns are off (analyzer.patterns.enabled: false)")
    run_stage(settings, serve_stage, loglevel, ready_fd, with_parent)


def serve_drift(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None, loglevel: LogOpt = "INFO",
                ready_fd: ReadyOpt = None, with_parent: ParentOpt = False) -> None:
    """Run the drift stage: attributed changes in, drift out. Run as many as needed (one group
    shares the partitions); `elava worker` runs one itself unless analyzer.drift.stage_in_worker is false."""
    from streams.drivers.worker.drift_stage import serve as serve_stage

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    _off_unless(settings.analyzer.drift.enabled, "drift is off (analyzer.drift.enabled: false)")
    run_stage(settings, serve_stage, loglevel, ready_fd, with_parent)


def _off_unless(enabled: bool, message: str) -> None:
    if not enabled:
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(code=2)


def run_stage(settings: Settings, serve_stage: Callable[..., Any], loglevel: str, ready_fd: int | None,
              with_parent: bool) -> None:
    """Run a stage the worker may start as its child (``with_parent``: nicer than the worker)."""
    import asyncio
    import logging

    if with_parent:
        from elava.processes.policy_supervisor import yield_cpu_to_worker

        yield_cpu_to_worker(settings)
    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    from elava.kafka.clients import ensure_topics

    if not with_parent:  # a child of `elava worker` finds them made
        asyncio.run(ensure_topics(settings.kafka))
    asyncio.run(serve_stage(settings, ready_fd, with_parent))


def register(app: typer.Typer) -> None:
    fleet_app.command("serve")(serve)
    app.add_typer(fleet_app, name="fleet")
    drift_stage_app.command("serve")(serve_drift)
    app.add_typer(drift_stage_app, name="drift-stage")
