"""Decisions as events: what a policy said about a change, or that it could not say.

Kept apart from the engine (which loads regopy) so that the process supervising the
evaluating child can write the error decision of a child that hung or died.
"""

from __future__ import annotations

from elava.events import AttributedChange, PolicyDecision


def decision(attributed: AttributedChange, policy: str, kind: str, messages: list[str]) -> PolicyDecision:
    """Deterministic: the change's time and the attributed change's id, never the clock."""
    change = attributed.change
    return PolicyDecision(uid=change.uid, policy=policy, decision=kind, messages=messages,
                          cause_id=attributed.event_id, decided_at=change.observed_at)


def error_decision(attributed: AttributedChange, policy: str, reason: str) -> PolicyDecision:
    """The policy failed on this change: named, with the reason, instead of a decision."""
    return decision(attributed, policy, "error", [reason])
