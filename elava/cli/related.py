"""`elava related UID [--at T] [--depth N]`: what a resource uses, and what uses it.

Read from the embedded store, like the other time-travel commands (`elava.cli.queries`);
a worker answers the same at ``/v1/related``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from elava.cli.common import console, err_console
from elava.cli.queries import ConfigOpt, Output, OutputOpt, UidArg, json_lines, moment, one_uid, reading
from elava.events import utcnow


def _table(title: str, links: list) -> object:
    from elava.cli.render import make_table
    from elava.cli.store_render import resource_label

    table = make_table("relation", "resource", "depth", "via", title=title, whole=("resource",))
    ids = {link.uid: (link.resource or {}).get("id") or link.uid for link in links}  # a via is an earlier link
    for link in links:
        label = resource_label(link.resource, link.uid)
        table.add_row(link.relation, label if link.resource else f"{link.uid}\n[dim](not observed)[/]",
                      str(link.depth), "" if link.depth == 1 else ids.get(link.via, link.via))
    return table


def related(uid: UidArg,
            at: Annotated[str | None, typer.Option(help="As of this time (default now): ISO-8601 or how long ago.")] = None,
            depth: Annotated[int, typer.Option(min=1, max=5, help="Steps out in each direction.")] = 1,
            output: OutputOpt = Output.table, config: ConfigOpt = None) -> None:
    """What a resource used and what used it (as of --at): its subnet, groups, volumes, role; who points at it."""
    from elava.cli.store_render import resource_label, when
    from streams.store.relations import RelationQueries, relations_json

    then = moment(at, "--at", default=utcnow())
    with reading(config) as queries:
        # An ARN Elava does not observe (an instance profile) may still be used by what it does.
        known = uid if uid.startswith("arn:") and not queries.resolve(uid) else one_uid(queries, uid)
        found = RelationQueries(queries.store).related(known, then, depth)
    if output is Output.json:
        json_lines([relations_json(found)])
        return
    subject = resource_label(found.resource, found.uid).replace("\n", " ")
    if found.resource is None:
        err_console.print(f"[dim]{found.uid} is not in the store as of then: only what pointed at it[/]")
    console.print(f"{subject}, as of {when(found.at)} UTC")
    for title, links in (("uses", found.uses), ("used by", found.used_by)):
        if links:
            console.print(_table(title, links))
        else:
            console.print(f"[dim]{title}: nothing[/]")


def register(app: typer.Typer) -> None:
    app.command()(related)
