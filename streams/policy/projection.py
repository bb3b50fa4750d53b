"""Pass the policies only the attributes they read.

regopy copies the input value by value, one C call per JSON value: for a resource
with a large attribute map that costs about as much as evaluating the policies.
So each bundle reads its policies' sources once and keeps the attribute names they
use as ``attributes.<name>`` (or ``metadata.<name>``). This is conservative: one use
of the word ``attributes`` or ``metadata`` in any other form (``attributes[key]``,
``object.get(input.resource.attributes, ...)``, a string that says "attributes")
and the bundle gets every attribute. ``change.diff`` is passed only to bundles
whose policies mention ``diff``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_COMMENT = re.compile(r"#[^\n]*")
_ATTRIBUTE_USE = re.compile(r"\b(?:attributes|metadata)\b(\.[A-Za-z_][A-Za-z0-9_]*)?")
_DIFF = re.compile(r"\bdiff\b")


@dataclass(frozen=True)
class Projection:
    attributes: frozenset[str] | None  # None: every attribute
    diff: bool

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        if self.attributes is None and self.diff:
            return document
        resource, change = document["resource"], document["change"]
        if self.attributes is not None:
            every = resource["attributes"]
            kept = {name: every[name] for name in self.attributes if name in every}
            resource = {**resource, "attributes": kept}
            if "metadata" in resource:
                resource["metadata"] = kept
        if not self.diff:
            change = {**change, "diff": []}
        return {**document, "resource": resource, "change": change}


def projection_for(sources: list[str]) -> Projection:
    code = [_COMMENT.sub("", source) for source in sources]
    names: set[str] | None = set()
    for text in code:
        for use in _ATTRIBUTE_USE.finditer(text):
            if use.group(1) is None:
                names = None
                break
            names.add(use.group(1)[1:])
        if names is None:
            break
    return Projection(attributes=None if names is None else frozenset(names),
                      diff=any(_DIFF.search(text) for text in code))
