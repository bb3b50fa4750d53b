"""Every case in policies/*_test.yaml holds, and every shipped policy has cases."""

from __future__ import annotations

import pytest

from streams.policy.cases import case_file, load_cases, run_all, run_case
from tests.unit.streams.policy.conftest import SHIPPED

SHIPPED_POLICIES = sorted(p.stem for p in SHIPPED.glob("*.rego") if not p.stem.endswith("_test"))


def _cases():
    for name in SHIPPED_POLICIES:
        for case in load_cases(case_file(SHIPPED / f"{name}.rego")):
            yield pytest.param(name, case, id=f"{name}: {case.get('name')}")


@pytest.mark.parametrize(("policy", "case"), list(_cases()))
def test_shipped_case(shipped, policy, case):
    result = run_case(shipped, policy, case)
    assert result.passed, result.detail


def test_every_shipped_policy_is_loaded_and_has_cases(shipped):
    assert [p.name for p in shipped.policies] == SHIPPED_POLICIES
    assert all(result.passed for result in run_all(shipped))
    assert all(len(load_cases(case_file(p.policy.path))) >= 3 for p in shipped.policies)
