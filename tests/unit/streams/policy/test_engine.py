"""The engine's conventions: decisions, actions, modes under the ceiling, ids, errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from elava.events import ActionRequest, PolicyDecision
from elava.exceptions import ElavaError
from elava.settings import PolicySettings
from streams.policy import PolicyEngine, PolicyLoadError, PolicyOutputError
from streams.policy.samples import sample_change, sample_resource

AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DENY_ALL = 'deny contains sprintf("%s is denied", [input.resource.id])'
STOP_ALL = 'actions contains {"type": "stop", "reason": "always"}'
TAG_ALL = 'actions contains {"type": "tag", "tags": {"owner": input.attribution.actor}}'


def change(kind="created", tags=None, actor="alice", type_="ec2.instance", version=3):
    resource = sample_resource({"type": type_, "id": "i-1", "tags": tags or {}})
    return sample_change(resource, kind=kind, version=version, observed_at=AT, actor={"name": actor})


def test_a_deny_is_one_decision_with_its_messages(write_policy, engine_for):
    write_policy("d", DENY_ALL + '\ndeny contains "second" if true')
    [decision] = engine_for().evaluate(change())
    assert isinstance(decision, PolicyDecision)
    assert (decision.policy, decision.decision, decision.messages) == ("d", "deny", ["i-1 is denied", "second"])
    assert decision.decided_at == AT  # the change's time, not the clock


def test_an_action_is_a_decision_plus_a_request(write_policy, engine_for):
    write_policy("t", TAG_ALL)
    attributed = change()
    decision, request = engine_for().evaluate(attributed)
    assert decision.decision == "action" and decision.cause_id == attributed.event_id
    assert isinstance(request, ActionRequest)
    assert (request.action, request.params, request.destructive) == ("tag", {"tags": {"owner": "alice"}}, False)
    assert (request.decision_id, request.resource_version, request.requested_at) == (decision.event_id, 3, AT)
    assert (request.uid, request.type, request.account, request.region) == (
        attributed.change.uid, "ec2.instance", "123456789012", "us-east-1")


def test_nothing_is_emitted_when_a_policy_is_silent(write_policy, engine_for):
    write_policy("quiet", 'deny contains "never" if input.resource.id == "other"')
    assert engine_for().evaluate(change()) == []


def test_deleted_resources_are_not_evaluated(write_policy, engine_for):
    write_policy("d", DENY_ALL)
    assert engine_for().evaluate(change(kind="deleted")) == []


def test_destructive_actions_are_flagged(write_policy, engine_for):
    write_policy("s", STOP_ALL)
    _, request = engine_for("enforce").evaluate(change())
    assert request.destructive and request.action == "stop"


@pytest.mark.parametrize(("ceiling", "own", "effective"), [
    ("notify", "enforce", "notify"), ("enforce", "notify", "notify"), ("enforce", "enforce", "enforce"),
    ("monitor", "enforce", "monitor"), ("enforce", None, "notify"), ("notify", "monitor", "monitor"),
])
def test_the_global_mode_is_a_ceiling(write_policy, engine_for, ceiling, own, effective):
    write_policy("s", STOP_ALL, None if own is None else f"mode: {own}\n")
    engine = engine_for(ceiling)
    assert engine.policies[0].effective_mode == effective
    assert engine.evaluate(change())[1].mode == effective


def test_a_replayed_change_yields_the_same_ids(write_policy, engine_for):
    write_policy("t", TAG_ALL)
    write_policy("d", DENY_ALL)
    first = [o.event_id for o in engine_for().evaluate(change())]
    again = [o.event_id for o in engine_for().evaluate(change())]
    assert first == again and len(set(first)) == 3


def test_a_new_version_asks_again_under_a_new_id(write_policy, engine_for):
    write_policy("t", TAG_ALL)
    engine = engine_for()
    [_, old], [_, new] = engine.evaluate(change(version=3)), engine.evaluate(change(version=4))
    assert old.event_id != new.event_id


def test_resource_types_limit_where_a_policy_applies(write_policy, engine_for):
    write_policy("d", DENY_ALL, "resource_types: [s3.bucket]\n")
    engine = engine_for()
    assert engine.evaluate(change(type_="ec2.instance")) == []
    assert len(engine.evaluate(change(type_="s3.bucket"))) == 1


def test_params_are_data_for_their_policy(write_policy, engine_for):
    write_policy("p", 'deny contains msg if { some msg in data.params.p.words }', "params: {words: [a, b]}\n")
    [decision] = engine_for().evaluate(change())
    assert decision.messages == ["a", "b"]


def test_metadata_is_the_attributes_for_policies_that_read_it(write_policy, engine_for):
    write_policy("m", 'deny contains "unencrypted" if input.resource.metadata.encrypted == false')
    resource = sample_resource({"type": "ec2.volume", "attributes": {"encrypted": False}})
    [decision] = engine_for().evaluate(sample_change(resource))
    assert decision.messages == ["unencrypted"]


def test_policies_are_evaluated_in_name_order(write_policy, engine_for):
    for name in ("b", "a", "c"):
        write_policy(name, DENY_ALL)
    assert [o.policy for o in engine_for().evaluate(change())] == ["a", "b", "c"]


def test_a_missing_directory_is_no_policies(tmp_path):
    engine = PolicyEngine.load(PolicySettings(path=tmp_path / "nowhere"))
    assert engine.policies == [] and engine.evaluate(change()) == []


def test_test_files_are_not_policies(write_policy, engine_for, tmp_path):
    write_policy("d", DENY_ALL)
    (tmp_path / "d_test.rego").write_text("package elava.d_test\n")
    assert [p.name for p in engine_for().policies] == ["d"]


@pytest.mark.parametrize(("rego", "definition", "problem"), [
    ("deny contains msg if {", None, "does not compile"),
    (DENY_ALL, "mode: destroy\n", "invalid definition: mode"),
    (DENY_ALL, "severity: extreme\n", "invalid definition: severity"),
    (DENY_ALL, "typo_key: 1\n", "invalid definition: typo_key"),
    (DENY_ALL, "mode: [notify\n", "not valid YAML"),
])
def test_a_bad_policy_names_its_file(write_policy, regopy_engine_for, rego, definition, problem):
    path = write_policy("bad", rego, definition)
    with pytest.raises(PolicyLoadError) as caught:
        regopy_engine_for()
    assert isinstance(caught.value, ElavaError) and problem in str(caught.value)
    assert str(path.with_suffix(".yaml") if definition else path) in str(caught.value)


def test_a_wrong_package_is_refused(tmp_path, engine_for):
    (tmp_path / "x.rego").write_text("package elava.y\n\nimport rego.v1\n")
    with pytest.raises(PolicyLoadError, match="package must be 'elava.x'"):
        engine_for()


@pytest.mark.parametrize(("rule", "problem"), [
    ('actions contains {"type": "reboot"}', "unknown action type 'reboot'"),
    ('actions contains "tag it"', "an action must be an object"),
    ('actions contains {"type": "tag", "tags": {"owner": 1}}', "a tag action needs tags"),
    ('actions contains {"type": "tag"}', "a tag action needs tags"),
    ('actions contains {"type": "notify", "color": "red"}', "unknown action keys ['color']"),
    ('actions contains {"type": "notify", "params": "x"}', "params must be an object"),
    ("deny contains 42", "deny must hold strings"),
])
def test_bad_output_names_its_policy(write_policy, engine_for, rule, problem):
    path = write_policy("oops", rule)
    with pytest.raises(PolicyOutputError, match=re.escape(problem)) as caught:
        engine_for().evaluate(change())
    assert caught.value.path == path


def test_a_runtime_error_names_the_failing_policy(write_policy, engine_for, engine_kind):
    write_policy("fine", DENY_ALL)
    path = write_policy("conflict", 'x := 1 if true\nx := 2 if true\ndeny contains "x" if x > 0')
    said = {"regopy": "complete rule with two different values", "wasm": "conflict.rego:6:1: var assignment conflict"}
    with pytest.raises(PolicyOutputError, match=said[engine_kind]) as caught:
        engine_for().evaluate(change())
    assert caught.value.path == path


def test_an_unknown_function_is_named(write_policy, regopy_engine_for):
    # regopy compiles a call to an unknown function and fails only when it is reached.
    path = write_policy("typo", 'deny contains msg if { msg := sprintnf("%s", ["x"]) }')
    with pytest.raises(PolicyOutputError, match="Function not found: sprintnf") as caught:
        regopy_engine_for().evaluate(change())
    assert caught.value.path == path


def test_output_regopy_cannot_read_names_the_policy(write_policy, regopy_engine_for):
    # regopy 1.5 leaves the quotes of a concat() result unescaped inside sprintf("%s!").
    path = write_policy("quotes", 'deny contains sprintf("%s!", [concat(", ", ["a", "b"])])')
    with pytest.raises(PolicyOutputError, match="evaluation failed") as caught:
        regopy_engine_for().evaluate(change())
    assert caught.value.path == path


def test_a_request_carries_its_chain_and_what_the_policy_saw_besides_the_resource(write_policy, engine_for):
    write_policy("t", TAG_ALL)
    attributed = change()
    _, request = engine_for().evaluate(attributed)
    assert (request.change_id, request.attribution_id) == (attributed.change.event_id, attributed.event_id)
    assert set(request.context) == {"change", "attribution"}
    assert request.context["attribution"]["actor"] == "alice" and request.context["change"]["kind"] == "created"


def test_a_policy_asked_again_on_the_resource_as_it_is_now(write_policy, engine_for):
    write_policy("t", 'actions contains {"type": "tag", "tags": {"owner": input.attribution.actor}} '
                      "if not input.resource.tags.owner", "resource_types: [ec2.instance]\n")
    engine = engine_for()
    _, request = engine.evaluate(change())
    now = change().change.resource
    assert [(a.type, a.params) for a in engine.actions_now("t", now, request.context)] == [
        ("tag", {"tags": {"owner": "alice"}})]  # the actor comes from the decision's context
    tagged = now.model_copy(update={"tags": {"owner": "bob"}})
    assert engine.actions_now("t", tagged, request.context) == []
    other_type = now.model_copy(update={"type": "ec2.volume"})
    assert engine.actions_now("t", other_type, request.context) == []


def test_decide_gives_a_failing_policy_an_error_decision_and_the_others_theirs(write_policy, regopy_engine_for):
    write_policy("fine", DENY_ALL)
    path = write_policy("typo", 'deny contains msg if { msg := sprintnf("%s", ["x"]) }')
    attributed = change()
    fine, error = regopy_engine_for().decide(attributed)
    assert (fine.policy, fine.decision, fine.messages) == ("fine", "deny", ["i-1 is denied"])
    assert (error.policy, error.decision, error.cause_id) == ("typo", "error", attributed.event_id)
    assert "Function not found: sprintnf" in error.messages[0] and str(path) not in error.messages[0]
    assert error.event_id == regopy_engine_for().decide(attributed)[1].event_id  # deterministic, like every decision


def test_decide_turns_bad_output_into_an_error_decision(write_policy, engine_for):
    write_policy("oops", 'actions contains {"type": "reboot"}')
    write_policy("tagger", TAG_ALL)
    outputs = engine_for().decide(change())
    assert [(o.policy, o.decision if isinstance(o, PolicyDecision) else o.action) for o in outputs] == [
        ("oops", "error"), ("tagger", "action"), ("tagger", "tag")]
    assert "unknown action type 'reboot'" in outputs[0].messages[0]


def test_decide_is_evaluate_when_nothing_fails(write_policy, engine_for):
    write_policy("t", TAG_ALL)
    write_policy("d", DENY_ALL)
    engine = engine_for()
    assert engine.decide(change()) == engine.evaluate(change()) != []
