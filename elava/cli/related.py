"""`elava related UID [--at T] [--depth N]`: what a resource uses, and what uses it.

Asks ``/v1/related`` like the other time-travel commands (`elava.cli.queries`): on the
embedded store, or with ``--api URL`` on the workers, which walk the edges across every
partition of the group.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from elava.cli.common import console, err_console
from elava.cli.queries import ConfigOpt, Output, OutputOpt, UidArg, json_lines, moment
from elava.cli.remote import ApiOpt, query_source
from elava.events import utcnow


def _table(title: str, links: list[dict[str, Any]]) -> object:
    from elava.cli.render import make_table
    from elava.cli.store_render import resource_label

    table = make_table("relation", "resource", "depth", "via", title=title, whole=("resource",))
    ids = {link["uid"]: link.get("id") or link["uid"] for link in links}  # a via is an earlier link
    for link in links:
        label = resource_label(link, link["uid"]) if link["observed"] else f"{link['uid']}\n[dim](not observed)[/]"
        table.add_row(link["relation"], label, str(link["depth"]), "" if link["depth"] == 1 else ids.get(link["via"], link["via"]))
    return table


def related(uid: UidArg,
            at: Annotated[str | None, typer.Option(help="As of this time (default now): ISO-8601 or how long ago.")] = None,
            depth: Annotated[int, typer.Option(min=1, max=5, help="Steps out in each direction.")] = 1,
            output: OutputOpt = Output.table, api: ApiOpt = None, config: ConfigOpt = None) -> None:
    """What a resource used and what used it (as of --at): its subnet, groups, volumes, role; who points at it."""
    from elava.cli.store_render import resource_label, when

    then = moment(at, "--at", default=utcnow())
    with query_source(config, api) as source:
        found = source.ask("/v1/related", {"uid": uid, "at": then.isoformat(), "depth": str(depth)})
    if output is Output.json:
        json_lines([found])
        return
    subject = resource_label(found, found["uid"]).replace("\n", " ")
    if not found["observed"]:
        err_console.print(f"[dim]{found['uid']} is not in the store as of then: only what pointed at it[/]")
    console.print(f"{subject}, as of {when(found['at'])} UTC")
    for title, links in (("uses", found["uses"]), ("used by", found["used_by"])):
        if links:
            console.print(_table(title, links))
        else:
            console.print(f"[dim]{title}: nothing[/]")


def register(app: typer.Typer) -> None:
    app.command()(related)
