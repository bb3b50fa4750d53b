"""The policy engine: every policy compiled once, one query per attributed change.

Conventions (docs/policies.md):
- ``deny contains msg`` (strings) -> one PolicyDecision "deny" carrying the messages;
- ``actions contains {...}`` -> one PolicyDecision "action" and one ActionRequest per action;
- a policy that neither denies nor acts emits nothing ("allow" would be noise);
- deleted resources are not evaluated;
- ``decide`` never raises for a policy's fault: a policy that fails on a change gets a
  PolicyDecision "error" naming it, and the other policies still decide.

Every time in the output is the change's ``observed_at``, never the clock, so a
replayed change yields the same events with the same ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from elava.events import ActionRequest, AttributedChange, PolicyDecision, Resource
from elava.settings import PolicySettings
from streams.policy.actions import PlannedAction, parse_action, parse_message
from streams.policy.bundle import CompiledPolicies
from streams.policy.catalogue import effective_mode, is_destructive
from streams.policy.definitions import Policy, load_policy, policy_files
from streams.policy.document import decision_context, input_document, resource_document
from streams.policy.exceptions import PolicyError, PolicyLoadError
from streams.policy.outcomes import decision, error_decision

log = logging.getLogger(__name__)


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
    def __init__(self, policies: list[Policy], enforcement_mode: str = "notify", evaluator: str = "regopy",
                 directory: Path | None = None) -> None:
        """``evaluator``: "regopy", "wasm" (the compiled module of ``directory``) or "auto"
        (that module when it was built from these policies, else regopy)."""
        self.enforcement_mode = enforcement_mode
        self.policies = [LoadedPolicy(p, effective_mode(enforcement_mode, p.mode)) for p in policies]
        self._by_name = {loaded.name: loaded for loaded in self.policies}
        # regopy copies input by value: carry resource.metadata only if a policy reads it.
        self._with_metadata = any("metadata" in p.source for p in policies)
        self.evaluator, self._compiled = _evaluator(policies, evaluator, directory)
        self._applicable: dict[str, tuple[str, ...]] = {}  # resource type -> the policies that look at it

    @classmethod
    def load(cls, settings: PolicySettings) -> PolicyEngine:
        directory = settings.path or shipped_policy_dir()
        if not directory.is_dir():
            log.warning("policy directory %s does not exist: no policies are evaluated", directory)
            return cls([], settings.enforcement_mode)
        policies = [load_policy(path) for path in policy_files(directory)]
        engine = cls(policies, settings.enforcement_mode, settings.engine, directory)
        log.info("loaded %d policies from %s (%s): %s", len(policies), directory, engine.evaluator,
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

    def decide_many(self, batch: list[AttributedChange]) -> list[Output]:
        return [output for outputs in self.decide_each(batch) for output in outputs]

    def decide_each(self, batch: list[AttributedChange]) -> list[list[Output]]:
        """What :meth:`decide` says of each change, the changes evaluated together (one query
        for the whole batch where the evaluator can); never raises for a policy's fault."""
        evaluated = [attributed for attributed in batch if self.applicable(attributed)]
        if not evaluated:
            return [[] for _ in batch]
        try:
            results = self._compiled.query_changes(evaluated, self._with_metadata)
        except PolicyError:  # one of them fails: each change alone, then each policy alone
            return [self.decide(attributed) for attributed in batch]
        answers = dict(zip((id(a) for a in evaluated), results, strict=True))
        return [self._decided(attributed, answers[id(attributed)]) if id(attributed) in answers else []
                for attributed in batch]

    def _decided(self, attributed: AttributedChange, results: list[list[Any]]) -> list[Output]:
        try:
            return self._outputs(attributed, results)
        except PolicyError:  # e.g. a bad action: find the policy, the others still decide
            return self.decide(attributed)

    def applicable(self, attributed: AttributedChange) -> tuple[str, ...]:
        """The policies that look at this change, in evaluation order (none for a deletion)."""
        change = attributed.change
        if self._compiled is None or change.kind == "deleted" or change.resource is None:
            return ()
        names = self._applicable.get(change.type)
        if names is None:
            names = self._applicable[change.type] = tuple(loaded.name for loaded in self.policies
                                                          if loaded.policy.applies_to(change.type))
        return names

    def decide(self, attributed: AttributedChange) -> list[Output]:
        """What :meth:`evaluate` says; if a policy fails, each policy is asked alone, and the one
        that fails gets an error decision while the others still decide."""
        try:
            return self.evaluate(attributed)
        except PolicyError:
            return [output for name in self.applicable(attributed) for output in self.decide_one(attributed, name)]

    def decide_one(self, attributed: AttributedChange, name: str) -> list[Output]:
        """Policy ``name`` alone on this change; its failure becomes its error decision."""
        try:
            results = self._compiled.query_one(name, input_document(attributed, self._with_metadata))
            messages, actions = _grouped(results).get(name, ([], []))
            return self._policy_outputs(self._by_name[name], attributed, messages, actions)
        except PolicyError as exc:
            return [error_decision(attributed, name, exc.problem)]

    def evaluate(self, attributed: AttributedChange) -> list[Output]:
        """Every decision and action request for this change; a failing policy raises PolicyError."""
        if not self.applicable(attributed):
            return []
        return self._outputs(attributed, self._compiled.query(input_document(attributed, self._with_metadata)))

    def _outputs(self, attributed: AttributedChange, results: list[list[Any]]) -> list[Output]:
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
            outputs.append(decision(attributed, policy.name, "deny", denied))
        if actions:
            planned = [parse_action(policy, action) for action in actions]
            acted = decision(attributed, policy.name, "action", sorted({a.reason for a in planned}))
            outputs.append(acted)
            outputs += [_request(attributed, loaded, acted, action) for action in planned]
        return outputs


def _grouped(results: list[list[Any]]) -> dict[str, tuple[list[Any], list[Any]]]:
    """``[policy, kind, value]`` triples -> policy -> (deny messages, actions), in policy-name
    order, each list in canonical JSON order (the same whichever engine sorted the set)."""
    grouped: dict[str, tuple[list[Any], list[Any]]] = {}
    for name, kind, value in sorted(results, key=_canonical):
        messages, actions = grouped.setdefault(name, ([], []))
        (messages if kind == "deny" else actions).append(value)
    return grouped


def _canonical(triple: list[Any]) -> bytes:
    return orjson.dumps(triple, option=orjson.OPT_SORT_KEYS)


def _evaluator(policies: list[Policy], choice: str, directory: Path | None) -> tuple[str, Any]:
    """The evaluator's name and the evaluator (None without policies)."""
    if not policies:
        return "none", None
    if choice != "regopy":
        from streams.policy.compiled import WasmPolicies, module_path, stale_reason

        reason = stale_reason(directory, policies) if directory else "no policy directory"
        if reason is None:
            try:
                return "wasm", WasmPolicies(policies, module_path(directory))
            except PolicyLoadError as exc:  # e.g. a builtin this host does not provide
                if choice == "wasm":
                    raise
                reason = exc.problem
        if choice == "wasm":
            raise PolicyLoadError(directory or "policies", f"policies.engine is wasm but {reason}: "
                                  "compile them with `elava policy build` (needs the opa binary)")
        log.info("policies evaluated by regopy: %s (`elava policy build` compiles them to Wasm)", reason)
    return "regopy", CompiledPolicies(policies)


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
