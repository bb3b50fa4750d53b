"""Whether the executor will act on a request at all, and whether its policy still asks.

The executor trusts nothing a request says about itself (docs/executor.md, Trust):

- the signature: with a key configured, only requests signed with a key it holds;
- the id: ``event_id`` must be the hash of the content (a request cannot pass itself
  off as another one the ledger already knows);
- the policy: one of the executor's own (``settings.policies``), for this type;
- the action: in the action catalogue; whether it destroys comes from there;
- the mode: the executor's own policy definition under its own ceiling.

A request that claims a different destructiveness or mode than the executor's own
knowledge is refused, not corrected: such a claim is forged or comes from a publisher
with other policies, and either way nobody asked for what the executor would do.

Right before acting, ``policy_still_asks`` evaluates the policy again on the resource
as AWS shows it now (tags included), in the context of the original decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from elava.events import ActionMode, ActionRequest, Resource
from elava.signing import Verdict
from streams.policy.catalogue import ACTIONS, is_destructive
from streams.policy.engine import PolicyEngine
from streams.policy.exceptions import PolicyError


@dataclass(frozen=True)
class Authority:
    """What the executor's own policies and catalogue say the request may do."""

    mode: ActionMode
    destructive: bool


@dataclass(frozen=True)
class Refusal:
    reason: str


def vet(request: ActionRequest, verdict: Verdict, engine: PolicyEngine) -> Authority | Refusal:
    if not verdict.ok:
        return Refusal(verdict.problem or "signature refused")
    if request.event_id != request.content_id():
        return Refusal(f"event_id {request.event_id!r} is not the id of the request's content")
    loaded = engine.policy(request.policy)
    if loaded is None:
        return Refusal(f"unknown policy {request.policy!r}: not one of this executor's policies")
    if not loaded.policy.applies_to(request.type):
        return Refusal(f"policy {request.policy!r} does not look at {request.type}")
    if request.action not in ACTIONS:
        return Refusal(f"unknown action {request.action!r} (known: {', '.join(ACTIONS)})")
    destructive = is_destructive(request.action)
    if request.destructive != destructive:
        return Refusal(f"the request says destructive={request.destructive}, but {request.action!r} "
                       f"{'is' if destructive else 'is not'} destructive")
    if request.mode != loaded.effective_mode:
        return Refusal(f"the request says mode {request.mode!r}, but policy {request.policy!r} runs in "
                       f"{loaded.effective_mode!r} here")
    return Authority(mode=loaded.effective_mode, destructive=destructive)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Recheck:
    asked: bool
    detail: str = ""


def policy_still_asks(request: ActionRequest, resource: Resource, engine: PolicyEngine) -> Recheck:
    """Does the policy, on ``resource`` as it is now, still ask for exactly this action?"""
    if engine.policy(request.policy) is None:
        return Recheck(False, f"policy {request.policy!r} is no longer loaded")
    try:
        planned = engine.actions_now(request.policy, resource, request.context)
    except PolicyError as exc:
        return Recheck(False, f"policy {request.policy!r} could not be evaluated again: {exc}")
    if any(p.type == request.action and p.params == request.params for p in planned):
        return Recheck(True)
    if any(p.type == request.action for p in planned):
        return Recheck(False, f"policy {request.policy!r} now asks for {request.action} with other parameters")
    return Recheck(False, f"policy {request.policy!r} no longer asks for it on the resource as it is now")
