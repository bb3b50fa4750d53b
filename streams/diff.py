"""Field-level diff between two versions of a resource's content.

Dicts are compared key by key (dotted paths); lists are compared as multisets of
items, so a rule added to a security group reads as one ``add`` of that rule rather
than a shuffled list.
"""

from __future__ import annotations

from typing import Any

import orjson

from elava.events import FieldChange, canonical_json

_MISSING = object()


def diff_content(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    changes: list[FieldChange] = []
    _diff_value("", old, new, changes)
    return changes


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _same_json(old: dict | list, new: dict | list) -> bool:
    """Equal containers that also hold the same JSON types (``==`` lets True, 1 and 1.0 match)."""
    try:
        return orjson.dumps(old) == orjson.dumps(new)
    except TypeError:  # not plain JSON: let the walk decide
        return False


def _diff_value(path: str, old: Any, new: Any, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        _diff_dict(path, old, new, out)
    elif isinstance(old, list) and isinstance(new, list):
        _diff_list(path, old, new, out)
    elif old != new or type(old) is not type(new):
        out.append(FieldChange(path=path, op="replace", old=old, new=new))


def _diff_dict(path: str, old: dict, new: dict, out: list[FieldChange]) -> None:
    # Most of a changed resource is unchanged: find the keys that differ in one pass
    # (no call per key), then walk only those, in key order.
    get_old, get_new = old.get, new.get
    changed = [
        key for key in old.keys() | new.keys()
        if (before := get_old(key, _MISSING)) != (after := get_new(key, _MISSING))
        or type(before) is not type(after)
        or (isinstance(before, (dict, list)) and not _same_json(before, after))
    ]
    for key in sorted(changed, key=str):
        before, after = get_old(key, _MISSING), get_new(key, _MISSING)
        if before is _MISSING:
            out.append(FieldChange(path=_join(path, key), op="add", new=after))
        elif after is _MISSING:
            out.append(FieldChange(path=_join(path, key), op="remove", old=before))
        else:
            _diff_value(_join(path, key), before, after, out)


def _diff_list(path: str, old: list, new: list, out: list[FieldChange]) -> None:
    old_keys = [canonical_json(item) for item in old]
    new_keys = [canonical_json(item) for item in new]
    remaining = list(new_keys)
    for key, item in zip(old_keys, old, strict=True):
        if key in remaining:
            remaining.remove(key)
        else:
            out.append(FieldChange(path=path, op="remove", old=item))
    leftover = list(old_keys)
    for key, item in zip(new_keys, new, strict=True):
        if key in leftover:
            leftover.remove(key)
        else:
            out.append(FieldChange(path=path, op="add", new=item))
