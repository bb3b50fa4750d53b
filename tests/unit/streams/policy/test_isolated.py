"""The policy engine in a child process gives what the in-process engine gives, and survives its child."""

from __future__ import annotations

import os
import signal

import pytest

from elava.events import Actor, AttributedChange, ChangeEvent
from elava.settings import PolicySettings
from streams.policy import PolicyEngine
from streams.policy.exceptions import PolicyError
from streams.policy.isolated import IsolatedPolicies
from tests.unit.streams.fixtures import T0, sg

SSH_WORLD = [{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}]


def attributed(n: int) -> AttributedChange:
    resource = sg(f"sg-{n}", {}, SSH_WORLD)
    change = ChangeEvent(uid=resource.uid, type=resource.type, account=resource.account, region=resource.region,
                         kind="created", previous_version=None, new_version=1, observed_at=T0, resource=resource,
                         cause_id=f"page-{n}")
    return AttributedChange(change=change, actor=Actor(name="alice"), confidence=0.5)


@pytest.fixture
def isolated():
    policies = IsolatedPolicies(PolicySettings(), recycle_after=3)
    yield policies
    policies.close()


def test_the_child_answers_like_the_engine_in_process_and_is_replaced_when_due(isolated):
    batch = [attributed(n) for n in range(2)]
    expected = PolicyEngine.load(PolicySettings()).evaluate_many(batch)
    first_child = isolated._process.pid
    assert expected and isolated.evaluate_many(batch) == expected
    assert isolated.evaluate_many(batch) == expected  # 2 done, due at 3: this batch still goes to the first
    assert isolated._process.pid == first_child
    assert isolated.evaluate_many(batch) == expected  # 4 >= 3: a fresh child answered
    assert isolated._process.pid != first_child


def test_a_child_that_died_is_replaced_and_the_batch_evaluated_again(isolated):
    os.kill(isolated._process.pid, signal.SIGKILL)
    isolated._process.join(timeout=5)
    assert isolated.evaluate_many([attributed(7)]) == PolicyEngine.load(PolicySettings()).evaluate(attributed(7))


def test_a_policy_that_does_not_compile_stops_start_up_with_its_file(tmp_path):
    (tmp_path / "broken.rego").write_text("package elava.broken\nimport rego.v1\ndeny contains msg if {\n")
    with pytest.raises(PolicyError, match="broken.rego"):
        IsolatedPolicies(PolicySettings(path=tmp_path))
