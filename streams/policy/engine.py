"""The policy engine: every policy compiled once, one query per attributed change.

Conventions (docs/policies.md):
- ``deny contains msg`` (strings) -> one PolicyDecision "deny" carrying the messages;
- ``actions contains {...}`` -> one PolicyDecision "action" and one ActionRequest per action;
- a policy that neither denies nor acts emits nothing ("allow" would be noise);
- deleted resources are not evaluated.

Every time in the output is the change's ``observed_at``, never the clock, so a
replayed change yields the same events with the same ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from elava.events import ActionRequest, AttributedChange, PolicyDecision, Resource
from elava.settings import PolicySettings
from streams.policy.actions import PlannedAction, parse_action, parse_message
from streams.policy.bundle import CompiledPolicies
from streams.policy.catalogue import effective_mode, is_destructive
from streams.policy.definitions import Policy, load_policy, policy_files
from streams.policy.document import decision_context, input_document, resource_document

log = logging.getLogger(__name__)


def policies_for(settings: PolicySettings) -> PolicyEngine | None:
    """The engine the drivers run, or None when policies are switched off."""
    return PolicyEngine.load(settings) if settings.enabled else None


def shipped_policy_dir() -> Path:
    """The policies installed with Elava (the repository's policies/ directory)."""
    return Path(str(resources.files("policies")))

Output = PolicyDecision | ActionRequest


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy as the engine runs it: its definition and the mode it gets under the ceiling."""

    policy: Policy
    effective_mode: str

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def mode(self) -> str:
        return self.policy.mode


class PolicyEngine:
    def __init__(self, policies: list[Policy], enforcement_mode: str = "notify") -> None:
        self.enforcement_mode = enforcement_mode
        self.policies = [LoadedPolicy(p, effective_mode(enforcement_mode, p.mode)) for p in policies]
        self._by_name = {loaded.name: loaded for loaded in self.policies}
        # regopy copies input by value: carry resource.metadata only if a policy reads it.
        self._with_metadata = any("metadata" in p.source for p in policies)
        self._compiled = CompiledPolicies(policies) if policies else None

    @classmethod
    def load(cls, settings: PolicySettings) -> PolicyEngine:
        directory = settings.path or shipped_policy_dir()
        if not directory.is_dir():
            log.warning("policy directory %s does not exist: no policies are evaluated", directory)
            return cls([], settings.enforcement_mode)
        policies = [load_policy(path) for path in policy_files(directory)]
        engine = cls(policies, settings.enforcement_mode)
        log.info("loaded %d policies from %s: %s", len(policies), directory,
                 ", ".join(f"{p.name} ({p.effective_mode})" for p in engine.policies) or "none")
        return engine

    def policy(self, name: str) -> LoadedPolicy | None:
        return self._by_name.get(name)

    def actions_now(self, name: str, resource: Resource, context: dict[str, Any]) -> list[PlannedAction]:
        """What policy ``name`` asks for on ``resource`` as it is now, in the context of its decision.

        The executor's re-check right before it acts: the same compiled policies, the
        current resource (its tags and attributes as AWS shows them), the change and
        attribution the decision was made on.
        """
        loaded = self._by_name[name]
        if self._compiled is None or not loaded.policy.applies_to(resource.type):
            return []
        document = {"resource": resource_document(resource, self._with_metadata), **context}
        results = self._compiled.query(document)
        return [parse_action(loaded.policy, value) for policy, kind, value in results
                if policy == name and kind == "action"]

    def evaluate_many(self, batch: list[AttributedChange]) -> list[Output]:
        return [output for attributed in batch for output in self.evaluate(attributed)]

    def evaluate(self, attributed: AttributedChange) -> list[Output]:
        change = attributed.change
        if self._compiled is None or change.kind == "deleted" or change.resource is None:
            return []
        if not self._compiled.applies(change.type):
            return []
        results = self._compiled.query(input_document(attributed, self._with_metadata))
        outputs: list[Output] = []
        for name, (messages, actions) in _grouped(results).items():
            loaded = self._by_name[name]
            outputs += self._policy_outputs(loaded, attributed, messages, actions)
        return outputs

    def _policy_outputs(self, loaded: LoadedPolicy, attributed: AttributedChange,
                        messages: list[Any], actions: list[Any]) -> list[Output]:
        policy = loaded.policy
        outputs: list[Output] = []
        if messages:
            denied = [parse_message(policy, message) for message in messages]
            outputs.append(_decision(attributed, policy.name, "deny", denied))
        if actions:
            planned = [parse_action(policy, action) for action in actions]
            decision = _decision(attributed, policy.name, "action", sorted({a.reason for a in planned}))
            outputs.append(decision)
            outputs += [_request(attributed, loaded, decision, action) for action in planned]
        return outputs


def _grouped(results: list[list[Any]]) -> dict[str, tuple[list[Any], list[Any]]]:
    """``[policy, kind, value]`` triples -> policy -> (deny messages, actions), in policy order."""
    grouped: dict[str, tuple[list[Any], list[Any]]] = {}
    for name, kind, value in results:
        messages, actions = grouped.setdefault(name, ([], []))
        (messages if kind == "deny" else actions).append(value)
    return grouped


def _decision(attributed: AttributedChange, policy: str, decision: str, messages: list[str]) -> PolicyDecision:
    change = attributed.change
    return PolicyDecision(uid=change.uid, policy=policy, decision=decision, messages=messages,
                          cause_id=attributed.event_id, decided_at=change.observed_at)


def _request(attributed: AttributedChange, loaded: LoadedPolicy, decision: PolicyDecision,
             action: PlannedAction) -> ActionRequest:
    change = attributed.change
    return ActionRequest(
        uid=change.uid, type=change.type, account=change.account, region=change.region,
        action=action.type, params=action.params, mode=loaded.effective_mode,
        destructive=is_destructive(action.type), policy=loaded.name, reason=action.reason,
        decision_id=decision.event_id, resource_version=change.new_version,
        requested_at=change.observed_at, change_id=change.event_id, attribution_id=attributed.event_id,
        context=decision_context(attributed),
    )
