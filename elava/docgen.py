"""Generated blocks inside hand-written Markdown (tables kept in sync with the code)."""

from __future__ import annotations


def splice(document: str, block: str, begin: str, end: str) -> str:
    """``document`` with the block between ``begin`` and ``end`` replaced (appended if absent)."""
    if begin in document and end in document:
        head, rest = document.split(begin, 1)
        return head + block + rest.split(end, 1)[1]
    return document.rstrip("\n") + "\n\n" + block + "\n"
