"""`elava policy list | eval | test`: what policies are loaded, what they say about a
resource, and whether their test cases hold. See docs/policies.md."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape  # a Rego head such as deny[msg] is not markup
from rich.table import Table

from elava.cli.common import console, err_console, settings_or_exit

policy_app = typer.Typer(help="OPA Rego policies: list, evaluate, test, serve.", no_args_is_help=True)


class Output(StrEnum):
    table = "table"
    json = "json"


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read.")]
PathOpt = Annotated[Path | None, typer.Option("--path", "-p", help="Policy directory (default: policies.path).")]
ModeOpt = Annotated[str | None, typer.Option(
    "--mode", "-m", help="Global enforcement mode to apply (default: policies.enforcement_mode).")]


def _engine(config: Path | None, path: Path | None, mode: str | None = None):
    from streams.policy import PolicyEngine, PolicyError

    settings = settings_or_exit(config, policies__path=path, policies__enforcement_mode=mode)
    try:
        return PolicyEngine.load(settings.policies)
    except PolicyError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def list_policies(config: ConfigOpt = None, path: PathOpt = None, mode: ModeOpt = None) -> None:
    """The loaded policies: mode, effective mode under the global ceiling, types, description."""
    engine = _engine(config, path, mode)
    from elava.cli.render import make_table

    # The description under the name: on 80 columns the short columns stay whole.
    table = make_table("policy", "mode", "effective", "severity", "resource types",
                       whole=("mode", "effective", "severity", "resource types"), show_lines=True,
                       title=f"global enforcement mode: {engine.enforcement_mode}; engine: {engine.evaluator}")
    for loaded in engine.policies:
        definition = loaded.policy.definition
        table.add_row(f"{loaded.name}\n[dim]{escape(definition.description)}[/]", loaded.mode, loaded.effective_mode,
                      definition.severity, "\n".join(definition.resource_types) or "all")
    console.print(table)


ResourceArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help=(
    "JSON resource(s): one object, a list, or JSON Lines (e.g. `elava scan --output json`); "
    "an AttributedChange is taken as it is."))]


def evaluate(resource: ResourceArg, config: ConfigOpt = None, path: PathOpt = None, mode: ModeOpt = None,
             actor: Annotated[str | None, typer.Option(help="Who made the change (CloudTrail actor).")] = None,
             kind: Annotated[str, typer.Option(help="created or modified.")] = "created",
             provisional: Annotated[bool, typer.Option(help="The attribution is a guess from tags.")] = False,
             output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.table,
             ) -> None:
    """What the policies decide for RESOURCE, as a change made by --actor."""
    from streams.policy import PolicyError

    engine = _engine(config, path, mode)
    try:
        changes = [_as_change(item, actor, kind, provisional) for item in _documents(resource.read_bytes())]
        outputs = [o for change in changes for o in engine.evaluate(change)]
    except (PolicyError, ValueError, KeyError) as exc:
        err_console.print(f"[bold red]error:[/] {resource}: {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    if output is Output.json:
        for item in outputs:
            typer.echo(item.to_bytes().decode())
        return
    console.print(_outputs_table(outputs))


def _documents(data: bytes) -> list[dict[str, Any]]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = [orjson.loads(line) for line in data.splitlines() if line.strip()]
    return parsed if isinstance(parsed, list) else [parsed]


def _as_change(item: dict[str, Any], actor: str | None, kind: str, provisional: bool):
    from elava.events import AttributedChange
    from streams.policy.samples import sample_change, sample_resource

    if "change" in item:
        return AttributedChange.model_validate(item)
    return sample_change(sample_resource(item), kind=kind, actor={"name": actor} if actor else None,
                         provisional=provisional)


def _outputs_table(outputs: list[Any]) -> Table:
    from elava.events import PolicyDecision

    table = Table(show_lines=True)
    for column in ("policy", "resource", "decision", "detail"):
        table.add_column(column, overflow="fold")
    for item in outputs:
        if isinstance(item, PolicyDecision):
            table.add_row(item.policy, item.uid, item.decision, "\n".join(item.messages))
        else:
            flag = " [red](destructive)[/]" if item.destructive else ""
            detail = f"{orjson.dumps(item.params).decode()}\n{item.reason}"
            table.add_row(item.policy, item.uid, f"{item.action} [{item.mode}]{flag}", detail)
    if not outputs:
        table.caption = "no policy denies or acts on these resources"
    return table


def test(config: ConfigOpt = None, path: PathOpt = None) -> None:
    """Run every policy's test cases (<name>_test.yaml); exit 1 if one fails."""
    from streams.policy import PolicyError
    from streams.policy.cases import run_all

    engine = _engine(config, path, "enforce")  # cases see each policy's own mode
    try:
        results = run_all(engine)
    except PolicyError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    for result in results:
        mark = "[green]pass[/]" if result.passed else "[bold red]FAIL[/]"
        console.print(f"{mark}  {result.policy}: {result.case}", highlight=False)
        if not result.passed:
            console.print(f"      {result.detail}", highlight=False, markup=False)
    failed = sum(not r.passed for r in results)
    console.print(f"{len(results) - failed} passed, {failed} failed")
    raise typer.Exit(code=1 if failed else 0)


def serve(config: ConfigOpt = None, path: PathOpt = None,
          bootstrap_servers: Annotated[str | None, typer.Option(
              "--bootstrap-servers", "-b", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092.")] = None,
          loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
          ready_fd: Annotated[int | None, typer.Option(hidden=True, help="Write 'ready' here once loaded.")] = None,
          with_parent: Annotated[bool, typer.Option(hidden=True, help="Stop when the parent process is gone.")] = False,
          ) -> None:
    """Run the policy stage: attributed changes in, decisions and actions out. Several share the load
    (consumer group policies.app_id); `elava worker` runs one itself unless policies.stage_in_worker is false."""
    import asyncio
    import logging

    from streams.policy import PolicyError

    settings = settings_or_exit(config, policies__path=path, kafka__bootstrap_servers=bootstrap_servers)
    if not settings.policies.enabled:
        err_console.print("[bold red]error:[/] policies are off (policies.enabled: false)", highlight=False)
        raise typer.Exit(code=2)
    if with_parent:
        from elava.processes.policy_supervisor import yield_cpu_to_worker

        yield_cpu_to_worker(settings)
    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    from elava.kafka.clients import ensure_topics
    from streams.drivers.worker.policy_stage import serve as serve_stage

    if not with_parent:  # a child of `elava worker` finds them made
        asyncio.run(ensure_topics(settings.kafka))
    from elava.telemetry import configure

    # Beside its worker, on the same host: the next Prometheus port (docs/operations.md, Telemetry).
    configure(settings.telemetry, "policies", port_offset=1 if with_parent else 0)
    try:
        asyncio.run(serve_stage(settings, ready_fd, with_parent))
    except PolicyError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def build(config: ConfigOpt = None, path: PathOpt = None,
          opa: Annotated[str | None, typer.Option(help="The opa binary (default: $ELAVA_OPA, opa on PATH, "
                                                       "Go's bin directory).")] = None) -> None:
    """Compile the policies to elava-policies.wasm (beside them) for the Wasm engine; needs OPA 1.x."""
    from streams.policy import PolicyError
    from streams.policy.build import build as build_module
    from streams.policy.build import find_opa
    from streams.policy.definitions import load_policy, policy_files
    from streams.policy.engine import shipped_policy_dir

    settings = settings_or_exit(config, policies__path=path)
    directory = settings.policies.path or shipped_policy_dir()
    binary = find_opa(opa)
    if binary is None:
        err_console.print("[bold red]error:[/] no opa binary: install OPA 1.x (e.g. `go install "
                          "github.com/open-policy-agent/opa@v1.22.3`) or pass --opa", highlight=False)
        raise typer.Exit(code=2)
    try:
        policies = [load_policy(file) for file in policy_files(directory)]
        target = build_module(directory, policies, binary)
    except PolicyError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    console.print(f"compiled {len(policies)} policies to {target}", highlight=False)


def register(app: typer.Typer) -> None:
    policy_app.command("list")(list_policies)
    policy_app.command("eval")(evaluate)
    policy_app.command("test")(test)
    policy_app.command("serve")(serve)
    policy_app.command("build")(build)
    app.add_typer(policy_app, name="policy")
