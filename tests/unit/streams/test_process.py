"""The partition processor with the shipped policies: findings follow attributions, replays repeat ids."""

from __future__ import annotations

from datetime import timedelta

from elava.events import ActionRequest, AttributedChange, PolicyDecision
from elava.settings import PolicySettings
from streams.policy import PolicyEngine
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, marker, page, sg, shard

SSH_WORLD = [{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}]
TAGGED = {"owner": "alice", "environment": "prod"}


def processor() -> PartitionProcessor:
    return PartitionProcessor(VersionStore(MemoryKV()), PolicyEngine.load(PolicySettings()))


def of_type(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_opening_ssh_to_the_world_is_denied_and_announced_with_the_change():
    proc = processor()
    quiet = proc.process(page([sg("sg-1", TAGGED)], T0))
    assert of_type(quiet, PolicyDecision) == []  # compliant: no "allow" noise
    opened = proc.process(page([sg("sg-1", TAGGED, SSH_WORLD)], T0 + timedelta(hours=1), scan="scan-2"))
    [decision] = [d for d in of_type(opened, PolicyDecision) if d.decision == "deny"]
    assert decision.policy == "open_admin_ports" and "port 22" in decision.messages[0]
    [action] = of_type(opened, ActionRequest)
    assert (action.action, action.mode, action.destructive, action.resource_version) == ("notify", "notify", False, 2)
    attributed = of_type(opened, AttributedChange)[0]
    assert decision.cause_id == attributed.event_id


def test_a_replayed_page_repeats_the_same_findings_under_the_same_ids():
    proc = processor()
    first = page([sg("sg-2", {}, SSH_WORLD)], T0)
    once = proc.process(first)
    again = proc.process(first)  # redelivered after a crash
    ids = lambda events: sorted(e.event_id for e in events if isinstance(e, (PolicyDecision, ActionRequest)))  # noqa: E731
    assert ids(once) and ids(once) == ids(again)


def test_deleted_resources_are_not_evaluated():
    proc = processor()
    gone = sg("sg-3", {}, SSH_WORLD)
    proc.process(page([gone], T0))
    deleted = proc.process(marker(shard(gone), [], T0 + timedelta(hours=1), scan="scan-2"))
    assert [e.kind for e in deleted if hasattr(e, "kind")] == ["deleted"]
    assert of_type(deleted, PolicyDecision) == [] and of_type(deleted, ActionRequest) == []


def test_without_policies_the_processor_emits_no_findings():
    proc = PartitionProcessor(VersionStore(MemoryKV()))
    assert of_type(proc.process(page([sg("sg-4", {}, SSH_WORLD)], T0)), PolicyDecision) == []
