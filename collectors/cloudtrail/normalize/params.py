"""Reading CloudTrail's ``requestParameters`` / ``responseElements`` as AWS writes them.

CloudTrail is not consistent across APIs: most EC2 calls log flat lowerCamelCase
fields (``groupId``), newer ones wrap the request as the API model names it
(``ModifySecurityGroupRulesRequest.GroupId``, ``CreateNatGatewayResponse.natGateway``),
and EC2 lists come as ``{"items": [...]}``. These helpers hide exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

_WRAPPER_SUFFIXES = ("Request", "Response", "Result")


def _get_ci(mapping: Mapping[str, Any], name: str) -> Any:
    if name in mapping:
        return mapping[name]
    folded = name.lower()
    return next((value for key, value in mapping.items() if key.lower() == folded), None)


def _wrappers(mapping: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key, value in mapping.items():
        if isinstance(value, Mapping) and key.endswith(_WRAPPER_SUFFIXES):
            yield value


def lookup(mapping: Any, path: str) -> Any:
    """The value at a dotted ``path``, matching keys case-insensitively.

    Each step also looks inside an API-model wrapper (``*Request``/``*Response``) when
    the key is not found directly, so ``natGateway.natGatewayId`` finds
    ``CreateNatGatewayResponse.natGateway.natGatewayId``.
    """
    current = mapping
    for step in path.split("."):
        if not isinstance(current, Mapping):
            return None
        found = _get_ci(current, step)
        if found is None:
            found = next((v for w in _wrappers(current) if (v := _get_ci(w, step)) is not None), None)
        current = found
    return current


def first(mapping: Any, *paths: str) -> Any:
    """The first non-empty value among ``paths``."""
    for path in paths:
        value = lookup(mapping, path)
        if value not in (None, "", [], {}):
            return value
    return None


def as_list(value: Any) -> list[Any]:
    """EC2's ``{"items": [...]}``, a plain list, one scalar, or nothing -> a list."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        items = _get_ci(value, "items")
        return list(items) if isinstance(items, list) else [value]
    if isinstance(value, list):
        return value
    return [value]


def strings(values: Iterable[Any], field: str | None = None) -> list[str]:
    """Non-empty strings, from the values themselves or from ``field`` of each."""
    picked = (lookup(value, field) if field else value for value in values)
    # Ids are text (account ids sometimes numbers); a flag such as "_return": true is none.
    return [str(value) for value in picked
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value)]


def each(mapping: Any, path: str, field: str | None = None) -> list[str]:
    """Every string at ``path`` (a list, an EC2 item set, or one value), optionally per ``field``."""
    return strings(as_list(lookup(mapping, path)), field)
