"""What a policy may put in its ``actions`` set, checked before it becomes an event.

An action is an object ``{"type": <catalogue name>, "params": {...}, "reason": "..."}``;
``"tags": {...}`` is short for ``"params": {"tags": {...}}`` (the original Elava
examples wrote tag actions that way). Anything else is a policy bug and is reported
as one, naming the policy's file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.policy.catalogue import ACTIONS
from streams.policy.definitions import Policy
from streams.policy.exceptions import PolicyOutputError

ACTION_KEYS = {"type", "params", "tags", "reason"}


@dataclass(frozen=True)
class PlannedAction:
    type: str
    params: dict[str, Any]
    reason: str


def parse_action(policy: Policy, value: Any) -> PlannedAction:
    if not isinstance(value, dict):
        raise PolicyOutputError(policy.path, f"an action must be an object, got {value!r}")
    unknown = set(value) - ACTION_KEYS
    if unknown:
        raise PolicyOutputError(policy.path, f"unknown action keys {sorted(unknown)} (allowed: {sorted(ACTION_KEYS)})")
    kind = value.get("type")
    if kind not in ACTIONS:
        raise PolicyOutputError(policy.path, f"unknown action type {kind!r} (known: {', '.join(ACTIONS)})")
    params = _params(policy, value)
    reason = value.get("reason", policy.description or f"policy {policy.name}")
    if not isinstance(reason, str):
        raise PolicyOutputError(policy.path, f"an action's reason must be a string, got {reason!r}")
    return PlannedAction(type=kind, params=params, reason=reason)


def _params(policy: Policy, value: dict[str, Any]) -> dict[str, Any]:
    params = value.get("params", {})
    if not isinstance(params, dict):
        raise PolicyOutputError(policy.path, f"an action's params must be an object, got {params!r}")
    if "tags" in value:
        params = {**params, "tags": value["tags"]}
    if value["type"] in ("tag", "untag") and not _valid_tags(value["type"], params.get("tags")):
        wanted = "an object of strings" if value["type"] == "tag" else "a list of tag keys"
        raise PolicyOutputError(policy.path, f"a {value['type']} action needs tags: {wanted}")
    return params


def _valid_tags(kind: str, tags: Any) -> bool:
    if kind == "tag":
        return isinstance(tags, dict) and bool(tags) and all(isinstance(v, str) for v in tags.values())
    return isinstance(tags, list) and bool(tags) and all(isinstance(k, str) for k in tags)


def parse_message(policy: Policy, value: Any) -> str:
    if not isinstance(value, str):
        raise PolicyOutputError(policy.path, f"deny must hold strings, got {value!r}")
    return value
