"""Every engine says the same of the same changes, one at a time or in a batch; and a change
no policy looks at costs no evaluation, while one a policy looks at is always evaluated."""

from __future__ import annotations

from collections import Counter

import pytest

from elava.events import PolicyDecision
from elava.settings import PolicySettings
from streams.policy import PolicyEngine
from streams.policy.samples import sample_change, sample_resource
from tests.bench.bench_policy import build_changes
from tests.unit.streams.policy.conftest import SHIPPED, load_engine

CORPUS = build_changes(1500, seed=11)  # the benchmark's varied changes: every shipped policy fires


@pytest.fixture(scope="module")
def engines() -> dict[str, PolicyEngine]:
    return {kind: PolicyEngine.load(PolicySettings(path=SHIPPED, enforcement_mode="enforce", engine=kind))
            for kind in ("regopy", "wasm")}


def test_both_engines_decide_the_corpus_alike_with_the_same_ids(engines):
    regopy, wasm = engines["regopy"], engines["wasm"]
    assert (regopy.evaluator, wasm.evaluator) == ("regopy", "wasm")
    one_by_one = [regopy.decide(change) for change in CORPUS]
    assert wasm.decide_each(CORPUS) == one_by_one
    assert [wasm.decide(change) for change in CORPUS] == one_by_one
    assert regopy.decide_each(CORPUS) == one_by_one
    fired = Counter(o.policy for outputs in one_by_one for o in outputs if isinstance(o, PolicyDecision))
    assert set(fired) == {p.name for p in regopy.policies}  # the corpus exercises every policy


def test_a_batch_with_a_failing_change_still_decides_the_others(tmp_path, write_policy, engine_kind):
    write_policy("fine", 'deny contains sprintf("%s is denied", [input.resource.id])')
    write_policy("conflict", 'x := 1 if input.resource.tags.fail\nx := 2 if input.resource.tags.fail\n'
                             'deny contains "x" if x > 0')
    engine = load_engine(tmp_path, engine_kind)
    changes = [sample_change(sample_resource({"type": "ec2.instance", "id": f"i-{n}",
                                              "tags": {"fail": "yes"} if n == 1 else {}})) for n in range(3)]
    said = [[(o.policy, o.decision) for o in outputs] for outputs in engine.decide_each(changes)]
    assert said == [[("fine", "deny")], [("conflict", "error"), ("fine", "deny")], [("fine", "deny")]]


class _Counting:
    """Wraps an evaluator and keeps the resource types of every change it is asked about."""

    def __init__(self, evaluator) -> None:
        self.evaluator, self.asked = evaluator, []

    def query_changes(self, changes, with_metadata):
        self.asked += [c.change.type for c in changes]
        return self.evaluator.query_changes(changes, with_metadata)

    def query(self, document):
        self.asked.append(document["resource"]["type"])
        return self.evaluator.query(document)


def test_a_change_no_policy_looks_at_is_not_evaluated_and_one_a_policy_looks_at_is(engine_kind):
    engine = PolicyEngine.load(PolicySettings(path=SHIPPED, engine=engine_kind))
    counting = engine._compiled = _Counting(engine._compiled)
    # A deletion is never evaluated; tagging looks at every type, so a vpc is.
    instance = sample_resource({"type": "ec2.instance", "id": "i-1"})
    deleted = sample_change(instance, kind="deleted")
    created = sample_change(instance, kind="created")
    vpc = sample_change(sample_resource({"type": "ec2.vpc", "id": "vpc-1"}), kind="modified")
    engine.decide_each([deleted, created, vpc])
    assert counting.asked == ["ec2.instance", "ec2.vpc"]


def test_a_type_outside_every_policy_costs_nothing(tmp_path, write_policy, engine_kind):
    write_policy("sg", 'deny contains "open" if input.resource.attributes.open', "resource_types: [ec2.security-group]\n")
    engine = load_engine(tmp_path, engine_kind)
    counting = engine._compiled = _Counting(engine._compiled)
    group = sample_change(sample_resource({"type": "ec2.security-group", "id": "sg-1", "attributes": {"open": True}}))
    bucket = sample_change(sample_resource({"type": "s3.bucket", "id": "b", "attributes": {"open": True}}))
    outputs = engine.decide_each([bucket, group, bucket])
    assert counting.asked == ["ec2.security-group"]
    assert [[o.messages for o in out] for out in outputs] == [[], [["open"]], []]


def test_in_a_batch_each_change_meets_only_the_policies_of_its_type(tmp_path, write_policy, engine_kind):
    write_policy("sg", 'deny contains "open" if input.resource.attributes.open', "resource_types: [ec2.security-group]\n")
    write_policy("every", 'deny contains "seen" if input.resource.attributes.open')  # so buckets pass `open`
    engine = load_engine(tmp_path, engine_kind)
    group = sample_change(sample_resource({"type": "ec2.security-group", "id": "sg-1", "attributes": {"open": True}}))
    bucket = sample_change(sample_resource({"type": "s3.bucket", "id": "b", "attributes": {"open": True}}))
    outputs = engine.decide_each([bucket, group])
    assert [[(o.policy, o.messages) for o in out] for out in outputs] == [
        [("every", ["seen"])], [("every", ["seen"]), ("sg", ["open"])]]
