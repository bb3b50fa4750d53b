"""Who uses what, counted from one complete scan of an account/region. No AWS calls here.

A type whose rules need it (``Usage.usage_facts``: snapshots, images) gets, for each of
its resources, ``used_by.<type>`` — how many resources of each type that declares it
``uses`` this one (instances run an image, images are made of snapshots) — and
``present.<type>`` — whether what it uses is there (a snapshot's volume). A count is
given only when the types it is counted from were scanned completely in that
account/region; otherwise it is reported missing, and no rule decides on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from collectors.metrics.plan import Learnt
from elava.catalogue import registry
from elava.catalogue.expressions import extract
from elava.events import Resource


def _ids(resource: Resource, path: str) -> list[str]:
    found = extract(resource.model_dump(mode="json"), path)
    items = found if isinstance(found, list) else [found]
    return [item for item in items if isinstance(item, str) and item]


def users_of(target: str) -> list[tuple[str, str]]:
    """(type, path) of every type that declares it uses ``target``."""
    return [(rt.name, rt.usage.uses[target]) for rt in registry.all_types()
            if rt.usage is not None and target in rt.usage.uses]


def types_needed() -> set[str]:
    """Every type the counts read: those that get counts, and those they are counted from."""
    needed = set()
    for rt in registry.all_types():
        if rt.usage is not None and rt.usage.usage_facts:
            needed |= {rt.name, *rt.usage.uses, *(name for name, _ in users_of(rt.name))}
    return needed


def count_usage(resources: Iterable[Resource], complete: set[str], learnt: Learnt,
                measure: set[str] | None = None) -> None:
    """Counts for every resource of a type with ``usage_facts`` (of the ``measure`` types, if given),
    from one account/region's scan."""
    by_type: dict[str, list[Resource]] = {}
    for resource in resources:
        by_type.setdefault(resource.type, []).append(resource)
    for type_name, members in by_type.items():
        usage = registry.get(type_name).usage
        if usage is None or not usage.usage_facts or (measure is not None and type_name not in measure):
            continue
        users = {user: Counter(i for r in by_type.get(user, []) for i in _ids(r, path))
                 for user, path in users_of(type_name)}
        present = {target: {r.id for r in by_type.get(target, [])} for target in usage.uses}
        for resource in members:
            _count_one(resource, usage.uses, users, present, complete, learnt)


def _count_one(resource: Resource, uses: dict[str, str], users: dict[str, Counter], present: dict[str, set[str]],
               complete: set[str], learnt: Learnt) -> None:
    for user, counts in users.items():
        if user in complete:
            learnt.value(resource.uid, f"used_by.{user}", float(counts[resource.id]))
        else:
            learnt.lack(resource.uid, f"used_by.{user}", f"{user} was not scanned completely here")
    for target, path in uses.items():
        if target in complete:
            wanted = _ids(resource, path)
            learnt.value(resource.uid, f"present.{target}", float(bool(wanted) and set(wanted) <= present[target]))
        else:
            learnt.lack(resource.uid, f"present.{target}", f"{target} was not scanned completely here")
