"""The `elava` command line."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from elava.cli.common import console, settings_or_exit
from elava.cli.errors import ElavaGroup
from elava.telemetry import configure as configure_telemetry

# ElavaGroup turns every failure into one line and an exit code (elava/cli/errors.py).
app = typer.Typer(help="Elava: living infrastructure engine for AWS.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=ElavaGroup)
topics_app = typer.Typer(help="Kafka topics of the pipeline.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read (default: ./elava.yaml or $ELAVA_CONFIG).")]
BootstrapOpt = Annotated[str | None, typer.Option("--bootstrap-servers", "-b", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092.")]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (e.g. a moto server).")]
RegionOpt = Annotated[list[str] | None, typer.Option("--region", "-r", help="Region to scan (repeatable).")]


@app.callback()
def global_options(debug: Annotated[bool, typer.Option(
        "--debug", envvar="ELAVA_DEBUG", help="On an error, also print its traceback.")] = False) -> None:
    """Options of every command (read by ElavaGroup)."""


@topics_app.command("create")
def topics_create(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None) -> None:
    """Create every Elava topic with its configs; safe to run twice."""
    from elava.kafka.clients import ensure_topics

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    report = asyncio.run(ensure_topics(settings.kafka))
    for name in report.created:
        console.print(f"[green]created[/]  {name}")
    for name in report.existing:
        console.print(f"[dim]exists[/]   {name}")
    for name in report.mismatched:
        console.print(f"[yellow]warning[/]  {name} has a partition count other than {settings.kafka.partitions}")


@topics_app.command("list")
def topics_list(config: ConfigOpt = None) -> None:
    """Print the topic catalog: name, key, cleanup policy, retention."""
    from elava.cli.render import topic_catalog_table
    from elava.topics import Topics

    settings = settings_or_exit(config)
    console.print(topic_catalog_table(Topics(settings.kafka)))


@app.command()
def worker(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None,
           loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO") -> None:
    """Run a stream worker (Faust): observations in; changes, attributions and DLQ out. The policy
    stage, the drift stage and the fleet-pattern stage run beside it as child processes
    (policies.stage_in_worker, analyzer.drift.stage_in_worker, analyzer.patterns.fleet_stage_in_worker;
    see `elava policy serve`, `elava drift-stage serve`, `elava fleet serve`)."""
    from elava.exceptions import SettingsError
    from elava.kafka.clients import ensure_topics
    from elava.kafka.layout_record import check_layout
    from elava.processes.policy_supervisor import (
        StageStartError,
        drift_stage_for_worker,
        fleet_stage_for_worker,
        stage_for_worker,
    )
    from streams.drivers.worker.app import run_worker
    from streams.drivers.worker.web import check_exposure

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    check_exposure(settings.worker)  # before any broker call: an open API without a token stops start-up
    asyncio.run(ensure_topics(settings.kafka))
    asyncio.run(check_layout(settings.kafka))  # the store's shard layout, if one was recorded
    stages = []
    try:
        stages.append(stage_for_worker(settings, config, bootstrap_servers, loglevel))
        stages.append(drift_stage_for_worker(settings, config, bootstrap_servers, loglevel))
        stages.append(fleet_stage_for_worker(settings, config, bootstrap_servers, loglevel))
    except StageStartError as exc:  # the stage has said why on stderr
        for stage in filter(None, stages):
            stage.stop()
        raise SettingsError(f"{exc}; the worker does not start without it (policies.stage_in_worker, "
                            "analyzer.drift.stage_in_worker or analyzer.patterns.fleet_stage_in_worker: "
                            "false runs it apart)") from None
    configure_telemetry(settings.telemetry, "worker")
    try:
        run_worker(settings, loglevel=loglevel)
    finally:
        for stage in filter(None, stages):
            stage.stop()


@app.command()
def collect(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None,
            endpoint_url: EndpointOpt = None, region: RegionOpt = None,
            interval: Annotated[float, typer.Option(help="Seconds between scans; 0 scans once.")] = 0,
            type_: Annotated[list[str] | None, typer.Option("--type", "-t", help="Resource type (repeatable).")] = None,
            serve: Annotated[bool, typer.Option(
                "--serve", help="Join the collector group and scan the accounts of the requests it is given.")] = False,
            ) -> None:
    """Scan AWS and publish observations and scan markers to Kafka."""
    from collectors.service import run_collector

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers,
                                providers__aws__endpoint_url=endpoint_url, providers__aws__regions=region)
    configure_telemetry(settings.telemetry, "collector")
    if serve:
        _serve_requests(settings)
        return
    from elava.cli.render import print_scan_report

    partial = asyncio.run(run_collector(settings, interval=interval, type_names=type_,
                                        on_scan=lambda scans: print_scan_report(console, scans)))
    if partial:
        console.print("[yellow]partial scan: failed or undelivered types keep their last known state (no deletions inferred)[/]")
    raise typer.Exit(code=3 if partial else 0)


def _serve_requests(settings) -> None:
    import signal

    from collectors.requests import serve_scan_requests
    from elava.cli.render import print_scan_report

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_scan_requests(settings, stop, on_scan=lambda scan: print_scan_report(console, [scan]),
                                  on_assign=lambda parts: console.print(f"scan-request partitions: {sorted(parts)}"))

    asyncio.run(serve())


@app.command()
def scan(config: ConfigOpt = None, endpoint_url: EndpointOpt = None, region: RegionOpt = None,
         type_: Annotated[list[str] | None, typer.Option("--type", "-t", help="Resource type (repeatable).")] = None,
         tiers: Annotated[str | None, typer.Option(help="Only these tiers, e.g. critical,production.")] = None,
         risk_only: Annotated[bool, typer.Option(
             "--risk-only", help="Only untracked (no owner tag) resources that are public, open or unencrypted.")] = False,
         output: Annotated[str, typer.Option(help="table, json or ocsf (OCSF JSON lines for a SIEM).")] = "table",
         ) -> None:
    """Scan in-process (no Kafka): store versions locally and print what exists (on a loop: `elava watch`)."""
    from elava.cli.scan import run_scan_command

    settings = settings_or_exit(config, providers__aws__endpoint_url=endpoint_url, providers__aws__regions=region)
    code = run_scan_command(settings, type_, tiers.split(",") if tiers else None, risk_only, output)
    raise typer.Exit(code=code)


@app.command()
def schedule(config: ConfigOpt = None, bootstrap_servers: BootstrapOpt = None,
             once: Annotated[bool, typer.Option(help="Publish the due requests once and exit.")] = False) -> None:
    """Publish scan requests per account and tier, as each tier's interval falls due."""
    from collectors.requests import run_scheduler

    settings = settings_or_exit(config, kafka__bootstrap_servers=bootstrap_servers)
    count = asyncio.run(run_scheduler(settings, once=once))
    console.print(f"published {count} scan requests")


@app.command()
def demo(bootstrap_servers: Annotated[str | None, typer.Option(
            "--bootstrap-servers", "-b", help="Play the story through a Kafka pipeline instead of in-process.")] = None,
         output: Annotated[str, typer.Option(help="table, json or ocsf (OCSF JSON lines for a SIEM).")] = "table") -> None:
    """Play a short story against a simulated AWS account and show what Elava sees."""
    from elava.demo.run import run_demo

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run_demo(bootstrap_servers=bootstrap_servers, output=output))


# Command groups defined in their own modules register here, one line each.
# (register(app) adds the module's commands to the root app.)
from elava.cli import queries; queries.register(app)  # noqa: E402,E702,I001  history, at, changes, who
from elava.cli import watch; watch.register(app)  # noqa: E402,E702,I001  watch
from elava.cli import findings; findings.register(app)  # noqa: E402,E702,I001  drift, patterns
from elava.cli import related; related.register(app)  # noqa: E402,E702,I001  related
from elava.cli import trail; trail.register(app)  # noqa: E402,E702,I001  trail explain
from elava.cli import policy; policy.register(app)  # noqa: E402,E702,I001  policy list, eval, test
from elava.cli import executor; executor.register(app)  # noqa: E402,E702,I001  executor
from elava.cli import dlq; dlq.register(app)  # noqa: E402,E702,I001  dlq list, replay
from elava.cli import actions; actions.register(app)  # noqa: E402,E702,I001  actions (audit trail)
from elava.cli import waste; waste.register(app)  # noqa: E402,E702,I001  waste (open findings)
from elava.cli import stages; stages.register(app)  # noqa: E402,E702,I001  fleet serve, drift-stage serve


def main() -> None:
    app()


if __name__ == "__main__":
    main()
