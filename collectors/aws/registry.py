"""The catalogue of resource types. Family modules register their types on import.

Adding a type: declare it in its family module (or a new family listed in
``FAMILIES``), and add one test. Nothing else changes.
"""

from __future__ import annotations

import importlib

from collectors.aws.types import ResourceType
from collectors.exceptions import InvalidResourceType, UnknownResourceType

FAMILIES = ("compute", "storage", "network", "volumes", "databases", "identity")

_types: dict[str, ResourceType] = {}
_families_loaded = False


def register(resource_type: ResourceType) -> ResourceType:
    """Add a type; registering the very same definition twice is harmless (re-import)."""
    known = _types.get(resource_type.name)
    if known is not None and known != resource_type:
        raise InvalidResourceType(f"resource type {resource_type.name!r} is registered twice, differently")
    _types[resource_type.name] = resource_type
    return resource_type


def _load_families() -> None:
    # Imported lazily so a family module can import `register` without a cycle.
    global _families_loaded
    if not _families_loaded:
        for family in FAMILIES:
            importlib.import_module(f"collectors.aws.{family}")
        _families_loaded = True


def get(name: str) -> ResourceType:
    _load_families()
    try:
        return _types[name]
    except KeyError:
        raise UnknownResourceType(name, sorted(_types)) from None


def all_types() -> list[ResourceType]:
    """Every registered type, by name."""
    _load_families()
    return [_types[name] for name in sorted(_types)]


def select(names: list[str] | None) -> list[ResourceType]:
    """The named types (all of them when ``names`` is empty or None)."""
    return [get(name) for name in names] if names else all_types()
