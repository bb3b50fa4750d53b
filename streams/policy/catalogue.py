"""What the engine knows about modes and actions: their order and which ones destroy.

The executor owns how an action is carried out; the engine only needs to know the
names it may ask for and whether one is destructive (a destructive action is
announced and waits for its grace period before it runs).
"""

from __future__ import annotations

from typing import get_args

from elava.events import ActionMode

MODES: tuple[str, ...] = get_args(ActionMode)  # monitor < notify < enforce
_RANK = {mode: rank for rank, mode in enumerate(MODES)}

# action type -> destructive?
ACTIONS: dict[str, bool] = {
    "notify": False,   # tell the owner; nothing changes in AWS
    "tag": False,      # add or overwrite tags
    "untag": False,    # remove tags
    "stop": True,      # stop an instance or a database: an outage for whoever used it
    "terminate": True,  # an instance is gone for good
    "delete": True,    # a volume, snapshot, bucket, group... is gone for good
}


def effective_mode(ceiling: str, policy_mode: str) -> str:
    """The global enforcement mode is a ceiling: a policy can only be stricter (lower)."""
    return min(ceiling, policy_mode, key=_RANK.__getitem__)


def is_destructive(action_type: str) -> bool:
    return ACTIONS[action_type]
