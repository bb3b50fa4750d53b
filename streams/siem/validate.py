"""Check an OCSF event against the compiled schema subset shipped in ``schema/``.

What a SIEM's parser relies on: the class is known and its classification adds up
(``category_uid`` of the class, ``type_uid = class_uid * 100 + activity_id``), every
required attribute of the class and of each object is there (profile attributes only
when ``metadata.profiles`` applies that profile), nothing unknown or deprecated is
added, scalars have their OCSF type, enum ids are defined (an ``Other`` id carries its
sibling name, any other id's sibling is its caption), object constraints hold
(``at_least_one``, ``just_one``) and every ``timestamp_t`` is in epoch milliseconds.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

SCHEMA_FILE = Path(__file__).parent / "schema" / "ocsf-1.8.0.json"
OTHER = "99"
# Epoch milliseconds between 2001-09-09 and 2286-11-20: seconds or microseconds fall outside.
EPOCH_MS = range(10**12, 10**13)
_BASE_CHECKS = {
    "string_t": lambda v: isinstance(v, str),
    "integer_t": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "long_t": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float_t": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean_t": lambda v: isinstance(v, bool),
    "json_t": lambda v: True,
    "object": lambda v: isinstance(v, dict),
}


class OcsfSchema:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.version: str = data["version"]
        self.by_uid = {spec["uid"]: name for name, spec in data["classes"].items()}

    @classmethod
    @functools.cache
    def load(cls, path: Path = SCHEMA_FILE) -> OcsfSchema:
        return cls(orjson.loads(path.read_bytes()))

    def validate(self, event: dict[str, Any]) -> list[str]:
        """Every way ``event`` breaks the schema, as ``path: problem`` lines (empty: valid)."""
        if not isinstance(event, dict):
            return [f"an OCSF event is a JSON object, not {type(event).__name__}"]
        name = self.by_uid.get(event.get("class_uid"))
        if name is None:
            return [f"class_uid: {event.get('class_uid')!r} is not a class of this schema"]
        spec = self.data["classes"][name]
        profiles = (event.get("metadata") or {}).get("profiles") or []
        errors = [f"metadata.profiles: {p!r} is not a profile of {name}" for p in profiles if p not in spec["profiles"]]
        errors += self._classification(event, spec)
        errors += _Walk(self, set(profiles)).block(event, spec, "")
        version = (event.get("metadata") or {}).get("version")
        if version != self.version:
            errors.append(f"metadata.version: {version!r}, expected {self.version!r}")
        return errors

    def _classification(self, event: dict[str, Any], spec: dict[str, Any]) -> list[str]:
        errors = []
        category = self.data["categories"][spec["category"]]
        if event.get("category_uid") != category:
            errors.append(f"category_uid: {event.get('category_uid')!r}, the class is in category {category}")
        activity = event.get("activity_id")
        if isinstance(activity, int) and event.get("type_uid") != spec["uid"] * 100 + activity:
            errors.append(f"type_uid: {event.get('type_uid')!r} is not class_uid * 100 + activity_id "
                          f"({spec['uid'] * 100 + activity})")
        return errors


class _Walk:
    """One validation pass: the profiles the event applies decide which attributes count."""

    def __init__(self, schema: OcsfSchema, profiles: set[str]) -> None:
        self.schema = schema
        self.profiles = profiles

    def block(self, value: dict[str, Any], spec: dict[str, Any], path: str) -> list[str]:
        attributes = spec["attributes"]
        errors = []
        for name, attr in attributes.items():
            counts = attr.get("profile") is None or attr["profile"] in self.profiles
            if attr.get("requirement") == "required" and counts and value.get(name) is None:
                errors.append(f"{path}{name}: required attribute missing")
        for name, item in value.items():
            attr = attributes.get(name)
            if attr is None:
                errors.append(f"{path}{name}: not an attribute here")
            elif attr.get("profile") is not None and attr["profile"] not in self.profiles:
                errors.append(f"{path}{name}: belongs to profile {attr['profile']!r}, not in metadata.profiles")
            elif attr.get("deprecated"):
                errors.append(f"{path}{name}: deprecated")
            elif item is not None:
                errors += self.attribute(item, attr, f"{path}{name}")
        errors += self.siblings(value, attributes, path)
        return errors + _constraints(value, spec.get("constraints") or {}, path)

    def attribute(self, value: Any, attr: dict[str, Any], path: str) -> list[str]:
        if attr.get("is_array"):
            if not isinstance(value, list):
                return [f"{path}: expected an array"]
            return [e for i, item in enumerate(value) for e in self.single(item, attr, f"{path}[{i}]")]
        return self.single(value, attr, path)

    def single(self, value: Any, attr: dict[str, Any], path: str) -> list[str]:
        if "object" in attr:
            if not isinstance(value, dict):
                return [f"{path}: expected a {attr['object']} object"]
            return self.block(value, self.schema.data["objects"][attr["object"]], path + ".")
        errors = self.scalar(value, attr["type"], path)
        if not errors and attr.get("enum") and str(value) not in attr["enum"]:
            errors.append(f"{path}: {value!r} is not one of {sorted(attr['enum'])}")
        return errors

    def scalar(self, value: Any, type_name: str, path: str) -> list[str]:
        types = self.schema.data["types"]
        spec, base = types.get(type_name, {}), type_name
        while types.get(base, {}).get("type"):
            base = types[base]["type"]
        if not _BASE_CHECKS.get(base, lambda v: False)(value):
            return [f"{path}: {value!r} is not a {type_name}"]
        if spec.get("regex") and not re.search(spec["regex"], value):
            return [f"{path}: {value!r} does not match {type_name}"]
        if spec.get("max_len") and len(value) > spec["max_len"]:
            return [f"{path}: longer than {spec['max_len']}"]
        if spec.get("range") and not spec["range"][0] <= value <= spec["range"][1]:
            return [f"{path}: {value!r} outside {spec['range']}"]
        if type_name == "timestamp_t" and value not in EPOCH_MS:
            return [f"{path}: {value!r} is not a time in epoch milliseconds"]
        if type_name == "datetime_t" and not _parses(value):
            return [f"{path}: {value!r} is not an RFC 3339 time"]
        return []

    def siblings(self, value: dict[str, Any], attributes: dict[str, Any], path: str) -> list[str]:
        """An enum id and its name agree: the caption, or the source's own word for Other."""
        errors = []
        for name, attr in attributes.items():
            sibling, item = attr.get("sibling"), value.get(name)
            if not sibling or not attr.get("enum") or str(item) not in attr["enum"]:
                continue
            if str(item) == OTHER:
                if not value.get(sibling):
                    errors.append(f"{path}{sibling}: {name} is Other ({OTHER}), so {sibling} must say what it is")
            elif sibling in value and value[sibling] != attr["enum"][str(item)]:
                errors.append(f"{path}{sibling}: {value[sibling]!r} is not the caption of "
                              f"{name} {item} ({attr['enum'][str(item)]!r})")
        return errors


def _constraints(value: dict[str, Any], constraints: dict[str, Any], path: str) -> list[str]:
    errors, path = [], path.rstrip(".")
    if "at_least_one" in constraints and not any(value.get(k) is not None for k in constraints["at_least_one"]):
        errors.append(f"{path or '(event)'}: needs at least one of {constraints['at_least_one']}")
    if "just_one" in constraints and sum(value.get(k) is not None for k in constraints["just_one"]) != 1:
        errors.append(f"{path or '(event)'}: needs exactly one of {constraints['just_one']}")
    return errors


def _parses(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def validate(event: dict[str, Any]) -> list[str]:
    """``event`` checked against the shipped OCSF subset."""
    return OcsfSchema.load().validate(event)
