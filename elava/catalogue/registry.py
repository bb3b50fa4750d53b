"""The catalogue of resource types. Family modules register their types on import.

Adding a type: declare it in its family module (or a new family listed in
``FAMILIES``), with its CloudTrail families, and give it its moto test. Nothing else
changes: the collectors, attribution, the executor's look, the documentation and the
IAM policy all read the declaration (docs/resource-types.md, "Adding a type").
"""

from __future__ import annotations

import importlib

from elava.catalogue.exceptions import InvalidResourceType, UnknownResourceType
from elava.catalogue.trail import Arns, Custom, IdPrefixed, Ids, Read, TrailFamily
from elava.catalogue.types import ResourceType

FAMILIES = ("compute", "containers", "storage", "network", "volumes", "databases", "identity", "messaging", "monitoring")

_types: dict[str, ResourceType] = {}
_shared_families: list[TrailFamily] = []
_families_loaded = False


def register(resource_type: ResourceType) -> ResourceType:
    """Add a type; registering the very same definition twice is harmless (re-import)."""
    known = _types.get(resource_type.name)
    if known is not None and known != resource_type:
        raise InvalidResourceType(f"resource type {resource_type.name!r} is registered twice, differently")
    _types[resource_type.name] = resource_type
    return resource_type


def register_family(family: TrailFamily) -> TrailFamily:
    """Add a trail family of several types (EC2 tags): its reads name their types."""
    for read in family.reads:
        if (isinstance(read, Ids) and read.type is None) or (isinstance(read, Arns | Custom) and not read.types):
            raise InvalidResourceType(f"trail family {family.title!r}: a shared family's reads must name their types")
    if family not in _shared_families:
        _shared_families.append(family)
    return family


def _load_families() -> None:
    # Imported lazily so a family module can import `register` without a cycle.
    global _families_loaded
    if not _families_loaded:
        for family in FAMILIES:
            importlib.import_module(f"elava.catalogue.{family}")
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


def trail_families() -> list[tuple[TrailFamily, str | None]]:
    """Every trail family with the type that declares it (None: a shared family), in
    declaration order."""
    _load_families()
    own = [(family, rt.name) for rt in _types.values() for family in rt.trail]
    return own + [(family, None) for family in _shared_families]


def read_types(read: Read, owner: str | None) -> tuple[str, ...]:
    """The types one read of a family may name (``owner`` declares the family)."""
    if isinstance(read, Ids):
        return (read.type or owner,) if (read.type or owner) else ()
    if isinstance(read, IdPrefixed):
        return tuple(rt.name for rt in by_id_prefix().values())
    named = read.types if isinstance(read, Arns) else (*((owner,) if owner else ()), *read.types)
    return tuple(named or ((owner,) if owner else ()))


def family_types(family: TrailFamily, owner: str | None) -> tuple[str, ...]:
    """Every type a family may touch, in the order its reads name them."""
    return tuple(dict.fromkeys(name for read in family.reads for name in read_types(read, owner)))


def by_id_prefix() -> dict[str, ResourceType]:
    """``{"i": ec2.instance, "sg": ec2.security-group, ...}``: the types whose ids say their type."""
    _load_families()
    found: dict[str, ResourceType] = {}
    for rt in _types.values():
        if rt.id_prefix:
            if rt.id_prefix in found:
                raise InvalidResourceType(f"id prefix {rt.id_prefix!r} of {rt.name!r} is {found[rt.id_prefix].name!r}'s")
            found[rt.id_prefix] = rt
    return found
