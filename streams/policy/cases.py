"""Policy test cases: ``policies/<name>_test.yaml``, run through the engine itself.

Each case is a resource (as the collectors publish it), the change and attribution
around it, and what the policy must say: its deny messages and its actions (type and
params), exactly. Running them through ``PolicyEngine.evaluate`` tests the policy,
its definition (types, params, mode) and the engine's conventions together.

(Rego ``test_*`` rules are not used: regopy 1.5 crashes the process on ``with input
as`` as soon as the policy under test calls a builtin such as ``sprintf``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from elava.events import ActionRequest, PolicyDecision
from streams.policy.definitions import TEST_SUFFIX
from streams.policy.engine import PolicyEngine
from streams.policy.exceptions import PolicyLoadError
from streams.policy.samples import sample_change, sample_resource


@dataclass(frozen=True)
class CaseResult:
    policy: str
    case: str
    passed: bool
    detail: str = ""


def case_file(policy_path: Path) -> Path:
    return policy_path.with_name(f"{policy_path.stem}{TEST_SUFFIX}.yaml")


def load_cases(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyLoadError(path, f"cannot read test cases: {exc}") from exc
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list) or not all(isinstance(c, dict) and "resource" in c for c in cases):
        raise PolicyLoadError(path, "expected 'cases:', a list of mappings with at least 'resource'")
    for case in cases:
        if not all(isinstance(m, str) for m in case.get("deny") or []):
            raise PolicyLoadError(path, f"case {case.get('name')!r}: deny must be a list of strings (quote a ': ')")
    return cases


def run_case(engine: PolicyEngine, policy: str, case: dict[str, Any]) -> CaseResult:
    attributed = sample_change(sample_resource(case["resource"]), kind=case.get("kind", "created"),
                               actor=case.get("actor"), provisional=case.get("provisional", False))
    outputs = [o for o in engine.evaluate(attributed) if o.policy == policy]
    got = said(outputs)
    wanted = {"deny": sorted(case.get("deny") or []), "actions": _sorted(case.get("actions") or [])}
    name = case.get("name", "unnamed case")
    if got == wanted:
        return CaseResult(policy, name, True)
    return CaseResult(policy, name, False, f"wanted {wanted}, got {got}")


def said(outputs: list[PolicyDecision | ActionRequest]) -> dict[str, list[Any]]:
    """What a policy said, in the shape test cases are written in."""
    deny = [m for o in outputs if isinstance(o, PolicyDecision) and o.decision == "deny" for m in o.messages]
    actions = [{"type": o.action, "params": o.params} for o in outputs if isinstance(o, ActionRequest)]
    return {"deny": sorted(deny), "actions": _sorted(actions)}


def _sorted(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({"type": a["type"], "params": a.get("params") or {}} for a in actions),
                  key=lambda a: orjson.dumps(a, option=orjson.OPT_SORT_KEYS))


def run_all(engine: PolicyEngine) -> list[CaseResult]:
    """Every case of every loaded policy; a policy without a case file fails (untested)."""
    results = []
    for loaded in engine.policies:
        path = case_file(loaded.policy.path)
        if not path.exists():
            results.append(CaseResult(loaded.name, "(no cases)", False, f"{path} is missing"))
            continue
        results += [run_case(engine, loaded.name, case) for case in load_cases(path)]
    return results
