"""The embedded driver with the shipped policies: the changes are recorded first, findings follow
attributions, replays repeat ids, and a failing policy costs a decision "error", never a change."""

from __future__ import annotations

from datetime import timedelta

from elava.events import ActionRequest, AttributedChange, ChangeEvent, PolicyDecision
from elava.settings import PolicySettings
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.policy import PolicyEngine
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, BatchCountingKV, marker, page, sg, shard

SSH_WORLD = [{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}]
TAGGED = {"owner": "alice", "environment": "prod"}


def pipeline(engine: PolicyEngine | None = None) -> EmbeddedPipeline:
    return EmbeddedPipeline(VersionStore(MemoryKV()), engine or PolicyEngine.load(PolicySettings()))


async def played(pipe: EmbeddedPipeline, *pages) -> list:
    for item in pages:
        await (pipe.marker(item) if item.ce_type == "elava.scan-marker" else pipe.page(item))
    outputs = pipe.outputs
    events = outputs.changes + outputs.attributed + outputs.drift + outputs.decisions + outputs.actions
    outputs.clear()
    return events


def of_type(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


async def test_opening_ssh_to_the_world_is_denied_and_announced_with_the_change():
    pipe = pipeline()
    quiet = await played(pipe, page([sg("sg-1", TAGGED)], T0))
    assert of_type(quiet, PolicyDecision) == []  # compliant: no "allow" noise
    opened = await played(pipe, page([sg("sg-1", TAGGED, SSH_WORLD)], T0 + timedelta(hours=1), scan="scan-2"))
    [decision] = [d for d in of_type(opened, PolicyDecision) if d.decision == "deny"]
    assert decision.policy == "open_admin_ports" and "port 22" in decision.messages[0]
    [action] = of_type(opened, ActionRequest)
    assert (action.action, action.mode, action.destructive, action.resource_version) == ("notify", "notify", False, 2)
    attributed = of_type(opened, AttributedChange)[0]
    assert decision.cause_id == attributed.event_id


async def test_a_replayed_page_repeats_the_same_findings_under_the_same_ids():
    pipe = pipeline()
    first = page([sg("sg-2", {}, SSH_WORLD)], T0)
    once = await played(pipe, first)
    again = await played(pipe, first)  # redelivered after a crash
    ids = lambda events: sorted(e.event_id for e in events if isinstance(e, (PolicyDecision, ActionRequest)))  # noqa: E731
    assert ids(once) and ids(once) == ids(again)


async def test_deleted_resources_are_not_evaluated():
    pipe = pipeline()
    gone = sg("sg-3", {}, SSH_WORLD)
    await played(pipe, page([gone], T0))
    deleted = await played(pipe, marker(shard(gone), [], T0 + timedelta(hours=1), scan="scan-2"))
    assert [e.kind for e in of_type(deleted, ChangeEvent)] == ["deleted"]
    assert of_type(deleted, PolicyDecision) == [] and of_type(deleted, ActionRequest) == []


async def test_a_failing_policy_loses_no_change_and_gets_an_error_decision(tmp_path):
    (tmp_path / "typo.rego").write_text(
        'package elava.typo\n\nimport rego.v1\n\ndeny contains msg if { msg := sprintnf("%s", ["x"]) }\n')
    store = VersionStore(MemoryKV())
    pipe = EmbeddedPipeline(store, PolicyEngine.load(PolicySettings(path=tmp_path)))
    events = await played(pipe, page([sg("sg-5"), sg("sg-6")], T0))
    assert [c.kind for c in of_type(events, ChangeEvent)] == ["created", "created"]
    assert len(of_type(events, AttributedChange)) == 2
    assert [(d.uid.rsplit("/", 1)[1], d.policy, d.decision) for d in of_type(events, PolicyDecision)] == [
        ("sg-5", "typo", "error"), ("sg-6", "typo", "error")]
    assert store.head(sg("sg-5").uid) is not None  # recorded before the policies ran


def test_the_processor_itself_evaluates_no_policies():
    events = list(PartitionProcessor(VersionStore(MemoryKV())).process(page([sg("sg-4", {}, SSH_WORLD)], T0)).events())
    assert of_type(events, ChangeEvent) and of_type(events, PolicyDecision) == []


async def test_with_policies_in_their_own_process_a_pages_decisions_are_made_beside_the_next_page():
    from streams.policy.isolated import IsolatedPolicies

    pages = [page([sg("sg-7", {}, SSH_WORLD)], T0), page([sg("sg-8", TAGGED, SSH_WORLD)], T0)]
    in_process = pipeline()
    expected = [await played(in_process, item) for item in pages]
    apart = IsolatedPolicies(PolicySettings())
    try:
        pipe = EmbeddedPipeline(VersionStore(MemoryKV()), apart)
        await pipe.page(pages[0])
        assert pipe.outputs.decisions == []  # handed over; collected when the next page has its changes
        await pipe.page(pages[1])
        assert {d.uid for d in pipe.outputs.decisions} == {sg("sg-7").uid}
        pipe.finish()  # the last page's decisions too
        decided = lambda events: [e for e in events if isinstance(e, (PolicyDecision, ActionRequest))]  # noqa: E731
        assert pipe.outputs.decisions + pipe.outputs.actions
        assert sorted(e.event_id for e in pipe.outputs.decisions + pipe.outputs.actions) == sorted(
            e.event_id for events in expected for e in decided(events))
    finally:
        apart.close()


async def test_each_input_reaches_the_store_as_one_batch_when_applied():
    kv = BatchCountingKV()
    pipe = EmbeddedPipeline(VersionStore(kv), None)
    group = [r for r in (sg(f"sg-{n}") for n in range(40)) if shard(r) == shard(sg("sg-0"))][:5]
    await pipe.page(page(group, T0, scan="s1"))
    assert kv.batches == 1 and VersionStore(kv).head(group[0].uid) is not None  # flushed when applied
    await pipe.marker(marker(shard(group[0]), group[:3], T0 + timedelta(hours=1), scan="s2"))
    assert kv.batches == 2 and VersionStore(kv).head(group[4].uid).deleted
