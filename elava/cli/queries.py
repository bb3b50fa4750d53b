"""Time travel from the command line: `elava history`, `at`, `changes`, `diff`, `who`.

They read the embedded store at ``storage.path`` through a read-only handle: nothing
is written, and they work while an `elava scan` holds the store.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

from elava.cli.common import console, err_console, settings_or_exit
from elava.timeparse import parse_time
from streams.store.queries import InventoryFilter, TemporalQueries


class Output(StrEnum):
    table = "table"
    json = "json"


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="elava.yaml to read (default: ./elava.yaml or $ELAVA_CONFIG).")]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table, or json (one object per line).")]
SinceOpt = Annotated[str | None, typer.Option(help="From this time: ISO-8601 or how long ago (90m, 2h, 3d).")]
UntilOpt = Annotated[str | None, typer.Option(help="Until this time (default: now): ISO-8601 or how long ago.")]
UidArg = Annotated[str, typer.Argument(help="The resource's uid (ARN), or its id if that is unambiguous.")]
UidOpt = Annotated[str | None, typer.Option("--uid", help="Only this resource: its uid (ARN), or its id if unambiguous.")]
AccountOpt = Annotated[str | None, typer.Option(help="Only this account.")]
RegionOpt = Annotated[str | None, typer.Option(help="Only this region.")]
TypeOpt = Annotated[str | None, typer.Option("--type", "-t", help="Only this type, e.g. ec2.instance.")]
TagOpt = Annotated[list[str] | None, typer.Option(help="Only resources with this tag, key=value (repeatable).")]


@contextmanager
def reading(config: Path | None) -> Iterator[TemporalQueries]:
    """Queries over the embedded store, opened read-only; a clear message if it cannot be."""
    from streams.store.kv import RocksKV
    from streams.store.versioned import VersionStore

    kv = RocksKV(settings_or_exit(config).storage.path, read_only=True)  # StoreError: one line, exit 1
    try:
        yield TemporalQueries(VersionStore(kv))
    finally:
        kv.close()


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=code)


def moment(text: str | None, option: str, default: datetime | None = None) -> datetime | None:
    if text is None:
        return default
    try:
        return parse_time(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def one_uid(queries: TemporalQueries, ref: str) -> str:
    found = queries.resolve(ref)
    if not found:
        fail(f"no resource {ref!r} in the store (never seen, or removed by retention)")
    if len(found) > 1:
        fail(f"{ref!r} names {len(found)} resources; give the uid: " + ", ".join(found[:5]))
    return found[0]


def json_lines(objects: Iterable[dict[str, Any]]) -> None:
    write = sys.stdout.write
    for obj in objects:
        write(orjson.dumps(obj).decode() + "\n")


def tag_pairs(tags: list[str] | None) -> dict[str, str]:
    pairs = {}
    for text in tags or []:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {text!r}", param_hint="--tag")
        pairs[key] = value
    return pairs


def history(uid: UidArg, since: SinceOpt = None, until: UntilOpt = None,
            output: OutputOpt = Output.table, config: ConfigOpt = None) -> None:
    """Every version of one resource (optionally those valid between --since and --until)."""
    from elava.cli.store_render import history_table
    from streams.store.findings import Findings
    from streams.store.render_json import version_json

    start, end = moment(since, "--since"), moment(until, "--until")
    with reading(config) as queries:
        versions = queries.history(one_uid(queries, uid), start, end)
        drift = {v.version: Findings(queries.store).drift_of(v.uid, v.version) for v in versions}
        if output is Output.json:
            json_lines({**version_json(v, queries.subject(v)),
                        "drift": drift[v.version].model_dump(mode="json") if drift[v.version] else None}
                       for v in versions)
        elif versions:
            console.print(history_table(versions, drift))
        else:
            err_console.print("[dim]no version of it was valid in that window[/]")


def at(time: Annotated[str, typer.Argument(help="ISO-8601 or how long ago (90m, 2h, 3d).")],
       uid: Annotated[str | None, typer.Argument(help="Only this resource (uid or id).")] = None,
       account: AccountOpt = None, region: RegionOpt = None, type_: TypeOpt = None, tag: TagOpt = None,
       output: OutputOpt = Output.table, config: ConfigOpt = None) -> None:
    """The inventory as it was at TIME (or one resource, given its uid)."""
    from elava.cli.store_render import inventory_table, when
    from streams.store.render_json import inventory_json

    then = moment(time, "TIME")
    where = InventoryFilter(account=account, region=region, type=type_, tags=tag_pairs(tag))
    with reading(config) as queries:
        if uid is not None:
            found = queries.as_of(one_uid(queries, uid), then)
            versions = [found] if found is not None and where.matches(found.resource or {}) else []
        else:
            versions = queries.inventory(then, where)
        if output is Output.json:
            json_lines(inventory_json(v) for v in versions)
            return
        versions = list(versions)
        console.print(inventory_table(versions))
        console.print(f"{len(versions)} resources as of {when(int(then.timestamp() * 1_000_000))} UTC")


def changes(since: Annotated[str, typer.Option(help="From this time: ISO-8601 or how long ago (90m, 2h, 3d).")],
            until: UntilOpt = None, uid: UidOpt = None, account: AccountOpt = None, region: RegionOpt = None,
            type_: TypeOpt = None, tag: TagOpt = None, output: OutputOpt = Output.table,
            config: ConfigOpt = None) -> None:
    """What changed between --since and --until: creations, modifications, deletions, by time.

    A --tag matches a change whose resource had the tag before or after it."""
    from elava.cli.store_render import changes_table
    from streams.store.render_json import version_json

    start = moment(since, "--since")
    end = moment(until, "--until", default=datetime.now(UTC))
    where = InventoryFilter(account=account, region=region, type=type_, tags=tag_pairs(tag))
    with reading(config) as queries:
        one = one_uid(queries, uid) if uid is not None else None
        found = ((v, queries.subject(v)) for v in queries.changes(start, end, where, one))
        if output is Output.json:
            json_lines(version_json(v, subject) for v, subject in found)
            return
        rows = list(found)
        if rows:
            console.print(changes_table(rows))
        console.print(f"{len(rows)} changes")


def diff(since: Annotated[str, typer.Argument(metavar="T1", help="The earlier time: ISO-8601 or how long ago (3d).")],
         until: Annotated[str | None, typer.Argument(metavar="T2", help="The later time (default: now).")] = None,
         uid: UidOpt = None, account: AccountOpt = None, region: RegionOpt = None, type_: TypeOpt = None,
         tag: TagOpt = None, output: OutputOpt = Output.table, config: ConfigOpt = None) -> None:
    """The net difference between T1 and T2: what was created, what was deleted, and for what
    changed, the field diff between its versions at T1 and T2 (not every event in between)."""
    from elava.cli.store_render import diff_table, net_summary
    from streams.store.render_json import net_change_json

    start = moment(since, "T1")
    end = moment(until, "T2", default=datetime.now(UTC))
    if end < start:
        raise typer.BadParameter("T2 is before T1", param_hint="T2")
    where = InventoryFilter(account=account, region=region, type=type_, tags=tag_pairs(tag))
    with reading(config) as queries:
        one = one_uid(queries, uid) if uid is not None else None
        found = queries.diff(start, end, where, one)
        if output is Output.json:
            json_lines(net_change_json(n) for n in found)
            return
        rows = list(found)
        if rows:
            console.print(diff_table(rows))
        console.print(net_summary(rows, start, end), soft_wrap=True)


def who(uid: UidArg, since: SinceOpt = None, until: UntilOpt = None,
        output: OutputOpt = Output.table, config: ConfigOpt = None) -> None:
    """Who made each version of one resource ("unknown" until attribution names someone)."""
    from elava.cli.store_render import who_table
    from streams.store.render_json import who_json

    start, end = moment(since, "--since"), moment(until, "--until")
    with reading(config) as queries:
        rows = queries.who(one_uid(queries, uid), start, end)
        if output is Output.json:
            json_lines(who_json(row) for row in rows)
        else:
            console.print(who_table(rows))


def register(app: typer.Typer) -> None:
    app.command()(history)
    app.command()(at)
    app.command()(changes)
    app.command()(diff)
    app.command()(who)
