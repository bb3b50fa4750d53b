"""The policy engine in a child process: it answers like the engine in-process, and a policy
that fails, hangs or kills the child costs an error decision, never a change or the batch."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest

from elava.events import Actor, AttributedChange, ChangeEvent, PolicyDecision
from elava.exceptions import SchemaError
from elava.settings import PolicySettings
from streams.policy import PolicyEngine
from streams.policy.exceptions import PolicyLoadError
from streams.policy.isolated import IsolatedPolicies
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.records import StoredRecord
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, page, sg
from tests.unit.streams.policy.conftest import ENGINES, build_wasm

SSH_WORLD = [{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}]
DENY_ALL = 'deny contains sprintf("%s is denied", [input.resource.id])'
# Loops in regopy's native code (4e8 iterations: about an hour) in little memory, on tagged resources only.
LOOPS = ('deny contains "never" if {\n\tinput.resource.tags.loop == "yes"\n'
         '\tsome a in numbers.range(1, 20000)\n\tsome b in numbers.range(1, 20000)\n\ta * b < 0\n}')
FAILS = 'deny contains msg if {\n\tinput.resource.tags.fail == "yes"\n\tmsg := sprintnf("%s", ["x"])\n}'


def attributed(n: int, tags: dict | None = None) -> AttributedChange:
    resource = sg(f"sg-{n}", tags or {}, SSH_WORLD)
    change = ChangeEvent(uid=resource.uid, type=resource.type, account=resource.account, region=resource.region,
                         kind="created", previous_version=None, new_version=1, observed_at=T0, resource=resource,
                         cause_id=f"page-{n}")
    return AttributedChange(change=change, actor=Actor(name="alice"), confidence=0.5)


# A runtime failure in both engines (regopy also fails on FAILS; OPA refuses it at build).
CONFLICTS = 'x := 1 if input.resource.tags.fail == "yes"\nx := 2 if input.resource.tags.fail == "yes"\n' \
            'deny contains "x" if x > 0'
FAILURE = {"regopy": "complete rule with two different values", "wasm": "var assignment conflict"}


@pytest.fixture(params=ENGINES)
def isolated(request):
    policies = IsolatedPolicies(PolicySettings(engine=request.param), recycle_after=3)
    assert policies.evaluator == request.param
    yield policies
    policies.close()


@pytest.fixture
def troubled(write_policy, tmp_path, engine_kind):
    """A policy that denies everything, one that loops and one that fails (on tagged resources)."""
    write_policy("denyall", DENY_ALL)
    write_policy("looping", LOOPS)
    write_policy("failing", CONFLICTS)
    if engine_kind == "wasm":
        build_wasm(tmp_path)
    policies = IsolatedPolicies(PolicySettings(path=tmp_path, evaluation_timeout=timedelta(seconds=1),
                                               engine=engine_kind))
    yield policies
    policies.close()


def test_the_child_answers_like_the_engine_in_process_and_is_replaced_when_due(isolated):
    batch = [attributed(n) for n in range(2)]
    expected = PolicyEngine.load(PolicySettings()).evaluate_many(batch)
    first_child = isolated._process.pid
    assert expected and isolated.decide_many(batch) == expected
    assert isolated.decide_many(batch) == expected  # 2 done, due at 3: this batch still goes to the first
    assert isolated._process.pid == first_child
    assert isolated.decide_many(batch) == expected  # 4 >= 3: a fresh child answered
    assert isolated._process.pid != first_child


def test_a_child_that_died_is_replaced_and_the_change_decided_by_each_policy(isolated):
    os.kill(isolated._process.pid, signal.SIGKILL)
    isolated._process.join(timeout=5)
    assert isolated.decide_many([attributed(7)]) == PolicyEngine.load(PolicySettings()).evaluate(attributed(7))
    assert isolated.incidents == 0  # the child was dead before it was asked: no policy is to blame


def test_a_looping_policy_times_out_into_an_error_decision_and_the_batch_goes_on(troubled):
    batch = [attributed(1), attributed(2, {"loop": "yes"}), attributed(3)]
    first_child = troubled._process.pid
    outputs = troubled.decide_many(batch)
    said = [(o.uid.rsplit("/", 1)[1], o.policy, o.decision) for o in outputs]
    assert said == [("sg-1", "denyall", "deny"), ("sg-2", "denyall", "deny"), ("sg-2", "looping", "error"),
                    ("sg-3", "denyall", "deny")]
    error = outputs[2]
    assert error.messages == ["evaluation ran past 1s (policies.evaluation_timeout); "
                              "the evaluating process was replaced"]
    assert error.cause_id == batch[1].event_id and troubled.incidents == 1
    assert troubled._process.pid != first_child and troubled._process.is_alive()


def test_a_failing_policy_is_an_error_decision_beside_the_others(troubled, engine_kind):
    outputs = troubled.decide_many([attributed(1, {"fail": "yes"}), attributed(2)])
    assert [(o.uid.rsplit("/", 1)[1], o.policy, o.decision) for o in outputs] == [
        ("sg-1", "denyall", "deny"), ("sg-1", "failing", "error"), ("sg-2", "denyall", "deny")]
    assert isinstance(outputs[1], PolicyDecision) and FAILURE[engine_kind] in outputs[1].messages[0]
    assert troubled.incidents == 0  # an error is an answer: the child is kept


def test_an_unknown_function_is_an_error_decision_under_regopy(write_policy, tmp_path):
    write_policy("denyall", DENY_ALL)
    write_policy("failing", FAILS)  # OPA refuses it at `elava policy build`
    policies = IsolatedPolicies(PolicySettings(path=tmp_path, engine="regopy"))
    try:
        outputs = policies.decide_many([attributed(1, {"fail": "yes"})])
    finally:
        policies.close()
    assert [(o.policy, o.decision) for o in outputs] == [("denyall", "deny"), ("failing", "error")]
    assert "Function not found: sprintnf" in outputs[1].messages[0]


def test_record_bytes_are_decided_and_bytes_that_are_no_change_are_said_so(isolated):
    changes = [attributed(1), attributed(2)]
    answers = isolated.decide_each([changes[0].to_bytes(), b'{"change": 1}', changes[1].to_bytes()])
    assert answers[0] + answers[2] == PolicyEngine.load(PolicySettings(engine="regopy")).evaluate_many(changes)
    assert isinstance(answers[1], SchemaError) and "invalid AttributedChange" in str(answers[1])
    assert answers[0] and answers[2]


def test_a_policy_that_does_not_compile_stops_start_up_with_its_file(tmp_path):
    (tmp_path / "broken.rego").write_text("package elava.broken\nimport rego.v1\ndeny contains msg if {\n")
    with pytest.raises(PolicyLoadError, match="broken.rego: does not compile"):
        IsolatedPolicies(PolicySettings(path=tmp_path))


def test_rego_v0_stops_start_up_with_file_and_line(tmp_path):
    (tmp_path / "old.rego").write_text('package elava.old\n\ndeny[msg] {\n\tmsg := "x"\n}\n')
    with pytest.raises(PolicyLoadError, match=r"old.rego: line 3: Rego v0 syntax `deny\[msg\] \{`"):
        IsolatedPolicies(PolicySettings(path=tmp_path))


def test_a_batch_sent_ahead_is_decided_while_the_caller_goes_on_and_collected_as_decide_many_answers(isolated):
    batch = [attributed(n) for n in range(1, 5)]
    expected = PolicyEngine.load(PolicySettings()).decide_many(batch)
    ahead = isolated.send_ahead(batch)  # returns before any answer is read
    assert isolated._connection.poll(isolated.timeout)  # the child answers on its own meanwhile
    assert expected and isolated.collect(ahead) == expected
    assert isolated.decide_many(batch[:1]) == PolicyEngine.load(PolicySettings()).decide_many(batch[:1])


def test_closing_with_a_batch_not_collected_neither_hangs_nor_leaves_the_child(isolated):
    isolated.send_ahead([attributed(n) for n in range(1, 200)])
    process = isolated._process
    isolated.close()
    assert not process.is_alive()


class Pipe:
    """The child's end of the pipe: what ``_handle`` sends, one entry per message."""

    def __init__(self) -> None:
        self.messages: list = []

    def send(self, message) -> None:
        self.messages.append(message)


def test_a_batch_decided_together_leaves_the_child_as_one_message_and_one_by_one_as_one_each():
    from streams.policy.isolated import _handle

    engine = PolicyEngine.load(PolicySettings(engine="regopy"))
    items = [attributed(1).to_bytes(), b"not json", attributed(2).to_bytes()]
    together, each = Pipe(), Pipe()
    _handle(together, engine, ("batch", items, True))
    _handle(each, engine, ("batch", items, False))
    assert len(together.messages) == 1 and len(each.messages) == 3  # answers per change, in one message or three
    assert [status for status, _ in together.messages[0]] == [status for status, _ in each.messages] == \
        ["ok", "invalid", "ok"]
    assert together.messages[0][0][1] == each.messages[0][1] != []


def test_version_records_are_rebuilt_into_the_changes_they_were_stored_for_and_a_bad_one_is_said_so(isolated):
    """A scan hands over the records it stored (Produced.policy_items): decided as the changes."""
    processor = PartitionProcessor(VersionStore(MemoryKV()))
    made = [processor.process(page([sg(f"sg-{n}", {}, SSH_WORLD)], T0, number=n)) for n in range(3)]
    items = [item for produced in made for item in produced.policy_items()]
    assert [type(item) for item in items] == [StoredRecord] * 3
    broken = StoredRecord(items[0].uid, b'{"version": "one"}')
    answers = isolated.decide_each([items[0], broken, *items[1:]])
    changes = [attributed for produced in made for attributed in produced.attributed]
    expected = PolicyEngine.load(PolicySettings()).evaluate_many(changes)
    assert expected and answers[0] + answers[2] + answers[3] == expected
    assert isinstance(answers[1], SchemaError) and "version record of" in str(answers[1])
