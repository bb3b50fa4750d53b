"""Time travel from the command line: `elava history`, `at`, `changes`, `diff`, `who`.

Each asks one endpoint of the query API (elava/cli/remote.py): by default on the
embedded store at ``storage.path`` through a read-only handle (nothing is written, and
they work while an `elava scan` holds the store); with ``--api URL`` (or ``api.url``)
on the workers of a Kafka pipeline, any of which answers for all.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from elava.cli.common import console, err_console
from elava.cli.remote import ApiOpt, query_source
from elava.timeparse import parse_time
from streams.store.api import MAX_LIMIT


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
LimitOpt = Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="At most this many items.")]


def moment(text: str | None, option: str, default: datetime | None = None) -> datetime | None:
    if text is None:
        return default
    try:
        return parse_time(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


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


def limited(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    if len(rows) >= limit:
        err_console.print(f"[dim]the first {limit} only (--limit)[/]")
    return rows


def window(start: datetime | None, end: datetime | None) -> dict[str, str]:
    return {name: t.isoformat() for name, t in (("since", start), ("until", end)) if t is not None}


def filters(uid: str | None, account: str | None, region: str | None, type_: str | None,
            tag: list[str] | None) -> dict[str, str]:
    """The query API's filter parameters (tags as key=value,key=value)."""
    pairs = tag_pairs(tag)
    given = {"uid": uid, "account": account, "region": region, "type": type_,
             "tag": ",".join(f"{k}={v}" for k, v in pairs.items()) or None}
    return {name: value for name, value in given.items() if value is not None}


def history(uid: UidArg, since: SinceOpt = None, until: UntilOpt = None,
            output: OutputOpt = Output.table, api: ApiOpt = None, config: ConfigOpt = None) -> None:
    """Every version of one resource (optionally those valid between --since and --until)."""
    from elava.cli.store_render import history_table

    params = {"uid": uid, **window(moment(since, "--since"), moment(until, "--until"))}
    with query_source(config, api) as source:
        rows = source.ask("/v1/history", params)
    if output is Output.json:
        json_lines(rows)
    elif rows:
        console.print(history_table(rows))
    else:
        err_console.print("[dim]no version of it was valid in that window[/]")


def at(time: Annotated[str, typer.Argument(help="ISO-8601 or how long ago (90m, 2h, 3d).")],
       uid: Annotated[str | None, typer.Argument(help="Only this resource (uid or id).")] = None,
       account: AccountOpt = None, region: RegionOpt = None, type_: TypeOpt = None, tag: TagOpt = None,
       limit: LimitOpt = MAX_LIMIT, output: OutputOpt = Output.table, api: ApiOpt = None,
       config: ConfigOpt = None) -> None:
    """The inventory as it was at TIME (or one resource, given its uid)."""
    from elava.cli.store_render import inventory_table, when

    then = moment(time, "TIME")
    params = {"at": then.isoformat(), "limit": str(limit), **filters(uid, account, region, type_, tag)}
    with query_source(config, api) as source:
        rows = limited(source.ask("/v1/inventory", params), limit)
    if output is Output.json:
        json_lines(rows)
        return
    console.print(inventory_table(rows))
    console.print(f"{len(rows)} resources as of {when(then.isoformat())} UTC")


def changes(since: Annotated[str, typer.Option(help="From this time: ISO-8601 or how long ago (90m, 2h, 3d).")],
            until: UntilOpt = None, uid: UidOpt = None, account: AccountOpt = None, region: RegionOpt = None,
            type_: TypeOpt = None, tag: TagOpt = None, limit: LimitOpt = MAX_LIMIT,
            output: OutputOpt = Output.table, api: ApiOpt = None, config: ConfigOpt = None) -> None:
    """What changed between --since and --until: creations, modifications, deletions, by time.

    A --tag matches a change whose resource had the tag before or after it."""
    from elava.cli.store_render import changes_table

    start, end = moment(since, "--since"), moment(until, "--until", default=datetime.now(UTC))
    params = {**window(start, end), "limit": str(limit), **filters(uid, account, region, type_, tag)}
    with query_source(config, api) as source:
        rows = limited(source.ask("/v1/changes", params), limit)
    if output is Output.json:
        json_lines(rows)
        return
    if rows:
        console.print(changes_table(rows))
    console.print(f"{len(rows)} changes")


def diff(since: Annotated[str, typer.Argument(metavar="T1", help="The earlier time: ISO-8601 or how long ago (3d).")],
         until: Annotated[str | None, typer.Argument(metavar="T2", help="The later time (default: now).")] = None,
         uid: UidOpt = None, account: AccountOpt = None, region: RegionOpt = None, type_: TypeOpt = None,
         tag: TagOpt = None, limit: LimitOpt = MAX_LIMIT, output: OutputOpt = Output.table, api: ApiOpt = None,
         config: ConfigOpt = None) -> None:
    """The net difference between T1 and T2: what was created, what was deleted, and for what
    changed, the field diff between its versions at T1 and T2 (not every event in between)."""
    from elava.cli.store_render import diff_table, net_summary

    start = moment(since, "T1")
    end = moment(until, "T2", default=datetime.now(UTC))
    if end < start:
        raise typer.BadParameter("T2 is before T1", param_hint="T2")
    params = {**window(start, end), "limit": str(limit), **filters(uid, account, region, type_, tag)}
    with query_source(config, api) as source:
        rows = limited(source.ask("/v1/diff", params), limit)
    if output is Output.json:
        json_lines(rows)
        return
    if rows:
        console.print(diff_table(rows))
    console.print(net_summary(rows, start, end), soft_wrap=True)


def who(uid: UidArg, since: SinceOpt = None, until: UntilOpt = None,
        output: OutputOpt = Output.table, api: ApiOpt = None, config: ConfigOpt = None) -> None:
    """Who made each version of one resource ("unknown" until attribution names someone)."""
    from elava.cli.store_render import who_table

    params = {"uid": uid, **window(moment(since, "--since"), moment(until, "--until"))}
    with query_source(config, api) as source:
        rows = source.ask("/v1/who", params)
    if output is Output.json:
        json_lines(rows)
    else:
        console.print(who_table(rows))


def register(app: typer.Typer) -> None:
    app.command()(history)
    app.command()(at)
    app.command()(changes)
    app.command()(diff)
    app.command()(who)
