"""Cut the part of a compiled OCSF schema that Elava emits, for the validator to ship.

The full compiled OCSF 1.8.0 schema is about 4 MB; Elava emits three classes. The
subset keeps those classes, every object they can reach, the scalar types, the
profiles and the categories, and drops the prose (descriptions) the validator does
not read. Regenerate it (docs/siem.md) with::

    python -m ocsf.compile --ignore-extension windows linux macos -- <ocsf-schema> > ocsf.json
    python -m streams.siem.subset ocsf.json --source <ocsf-schema> --write streams/siem/schema/ocsf-1.8.0.json

``--source`` is the schema's source tree: ocsf-lib 0.10.4 tags an attribute with the
profile that also defines it even where the class itself declares it core
(``"profile": null``, e.g. API Activity's ``actor``, Detection Finding's
``confidence_score``); the class's own declaration is restored from the source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from streams.siem.classes import EMITTED_CLASSES

KEPT_ATTRIBUTE_FIELDS = ("type", "requirement", "is_array", "profile", "sibling")


def _attribute(spec: dict[str, Any], objects: dict[str, Any]) -> dict[str, Any]:
    kept = {key: spec.get(key) for key in KEPT_ATTRIBUTE_FIELDS if spec.get(key) is not None}
    if spec.get("enum"):
        kept["enum"] = {value: item.get("caption") for value, item in spec["enum"].items()}
    if spec.get("@deprecated"):
        kept["deprecated"] = True
    if kept.get("type") in objects and kept["type"] != "object":  # "object": any JSON object (unmapped)
        kept["object"] = kept.pop("type")
    return kept


def _attributes(block: dict[str, Any], objects: dict[str, Any]) -> dict[str, Any]:
    return {name: _attribute(spec, objects) for name, spec in sorted(block["attributes"].items())}


def _reachable_objects(compiled: dict[str, Any], classes: list[str]) -> set[str]:
    objects = compiled["objects"]
    seen: set[str] = set()
    todo = [spec.get("type") for name in classes for spec in compiled["classes"][name]["attributes"].values()]
    while todo:
        name = todo.pop()
        if name in objects and name not in seen:
            seen.add(name)
            todo.extend(spec.get("type") for spec in objects[name]["attributes"].values())
    return seen


class Source:
    """The schema's source tree: what a class or object declares itself, before ocsf-lib merges it."""

    def __init__(self, root: Path) -> None:
        self.definitions: dict[tuple[str, str], dict[str, Any]] = {}
        for kind in ("events", "objects"):
            for path in (root / kind).rglob("*.json"):
                data = json.loads(path.read_text())
                self.definitions[(kind, data.get("name"))] = data

    def _chain(self, kind: str, name: str | None) -> list[dict[str, Any]]:
        chain = []
        while name and (kind, name) in self.definitions:
            chain.append(self.definitions[(kind, name)])
            name = chain[-1].get("extends")
        return chain

    def declared_core(self, kind: str, name: str) -> set[str]:
        """Attributes declared with ``"profile": null`` by the definition or one it extends."""
        return {attr for data in self._chain(kind, name) for attr, spec in data.get("attributes", {}).items()
                if isinstance(spec, dict) and "profile" in spec and spec["profile"] is None}

    def constraints(self, kind: str, name: str) -> dict[str, Any] | None:
        """The nearest declared constraints (ocsf-lib 0.10.4 keeps the root's over a child's own)."""
        for data in self._chain(kind, name):
            if "constraints" in data:
                return data["constraints"] or None
        return None


def _fixed(block: dict[str, Any], kind: str, name: str, objects: dict[str, Any],
           source: Source | None) -> dict[str, Any]:
    attributes = _attributes(block, objects)
    if source is None:
        return {"constraints": block.get("constraints"), "attributes": attributes}
    for attr in source.declared_core(kind, name) & set(attributes):
        attributes[attr].pop("profile", None)
    return {"constraints": source.constraints(kind, name), "attributes": attributes}


def subset(compiled: dict[str, Any], source: Source | None, classes: list[str] = EMITTED_CLASSES) -> dict[str, Any]:
    objects = compiled["objects"]
    kept_classes = {}
    for name in classes:
        spec = compiled["classes"][name]
        kept_classes[name] = {"uid": spec["uid"], "caption": spec["caption"], "category": spec["category"],
                              "profiles": spec.get("profiles") or [],
                              **_fixed(spec, "events", name, objects, source)}
    return {
        "version": compiled["version"],
        "note": "A subset of the OCSF schema (Apache-2.0; see LICENSE and NOTICE beside this file), "
                "compiled with ocsf-lib and cut by streams/siem/subset.py.",
        "categories": {name: spec["uid"] for name, spec in sorted(compiled["categories"].items())},
        "profiles": {name: sorted(spec["attributes"]) for name, spec in sorted(compiled["profiles"].items())},
        "types": {name: {key: spec.get(key) for key in ("type", "regex", "range", "max_len") if spec.get(key)}
                  for name, spec in sorted(compiled["types"].items())},
        "classes": kept_classes,
        "objects": {name: _fixed(objects[name], "objects", name, objects, source)
                    for name in sorted(_reachable_objects(compiled, classes))},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compiled", type=Path, help="output of python -m ocsf.compile")
    parser.add_argument("--source", type=Path, help="the OCSF schema source tree it was compiled from")
    parser.add_argument("--write", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    source = Source(args.source) if args.source else None
    text = json.dumps(subset(json.loads(args.compiled.read_text()), source), indent=1, sort_keys=True) + "\n"
    if args.write:
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
