"""The event-family table of docs/attribution.md, generated from `resources.FAMILIES`.

``python -m collectors.cloudtrail.normalize.doc`` prints the block; ``--write docs/attribution.md``
replaces it in the file (a unit test fails when the file is stale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collectors.cloudtrail.normalize.resources import FAMILIES, Family
from elava import docgen

BEGIN = "<!-- BEGIN GENERATED: event families (python -m collectors.cloudtrail.normalize.doc --write docs/attribution.md) -->"
END = "<!-- END GENERATED: event families -->"


def _events(family: Family) -> str:
    return ", ".join(f"`{name}`" for name in family.events)


def family_row(family: Family) -> str:
    types = "<br>".join(f"`{name}`" for name in family.types)
    return f"| {family.title} | `{family.source}` | {_events(family)} | {types} | {family.where} |"


def render() -> str:
    """The generated block (markers included)."""
    types = sorted({name for family in FAMILIES for name in family.types})
    return "\n".join([
        BEGIN, "",
        f"{len(FAMILIES)} event families, {sum(len(f.events) for f in FAMILIES)} event names, "
        f"{len(types)} resource types. `Name*` is a prefix; Lambda's API-version suffixes "
        "(`UpdateFunctionConfiguration20150331v2`) are dropped before matching.", "",
        "| Family | eventSource | Events | Types | Resources read from |",
        "| --- | --- | --- | --- | --- |",
        *(family_row(family) for family in FAMILIES), "",
        END,
    ])


def splice(document: str, block: str) -> str:
    """``document`` with its generated block replaced (appended if it has none)."""
    return docgen.splice(document, block, BEGIN, END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update the generated block of this Markdown file")
    args = parser.parse_args(argv)
    if args.write is None:
        print(render())
        return 0
    document = args.write.read_text() if args.write.exists() else ""
    args.write.write_text(splice(document, render()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
