"""docs/attribution.md: its event-family table is generated from the table in the code."""

from __future__ import annotations

from pathlib import Path

from collectors.cloudtrail.normalize.doc import BEGIN, END, render, splice
from collectors.cloudtrail.normalize.identity import IDENTITY_TYPES
from collectors.cloudtrail.normalize.resources import FAMILIES

DOC = Path(__file__).resolve().parents[5] / "docs" / "attribution.md"


def test_the_family_table_is_current():
    document = DOC.read_text()
    block = document[document.index(BEGIN):document.index(END) + len(END)]
    assert block == render(), "stale: run python -m collectors.cloudtrail.normalize.doc --write docs/attribution.md"


def test_every_family_and_identity_type_is_documented():
    document = DOC.read_text()
    for family in FAMILIES:
        assert f"| {family.title} | `{family.source}` |" in document
    for identity_type in IDENTITY_TYPES:
        assert f"| `{identity_type}`" in document, identity_type


def test_splice_replaces_only_the_generated_block():
    document = f"intro\n\n{BEGIN}\nold\n{END}\n\noutro\n"
    assert splice(document, f"{BEGIN}\nnew\n{END}") == f"intro\n\n{BEGIN}\nnew\n{END}\n\noutro\n"
    assert splice("intro\n", "BLOCK") == "intro\n\nBLOCK\n"
