"""The executor's plan: which step comes next, and whether AWS may be changed."""

from datetime import timedelta

import pytest

from elava.events import ActionResult
from streams.executor.ledger import Ledger
from streams.executor.plan import (
    Announce,
    Execute,
    Finish,
    Ignore,
    Inspection,
    Notify,
    Wait,
    decide,
    describe,
    effective_dry_run,
    notice,
    plan,
    resource_id,
    vet_announcement,
)
from tests.unit.streams.executor.fixtures import DRY, ENFORCING, NOW, entry, request

LIVE = Inspection(exists=True)


def test_monitor_mode_only_records():
    step = plan(request("stop", "monitor"), None, ENFORCING, NOW, "monitor")
    assert isinstance(step, Finish) and step.status == "monitored"
    assert "stop ec2.instance i-0abc" in step.detail


@pytest.mark.parametrize("action", ["tag", "stop", "delete", "notify"])
def test_notify_mode_only_notifies_whatever_the_action(action):
    assert plan(request(action, "notify"), None, ENFORCING, NOW, "notify") == Notify()


def test_a_notify_action_in_enforce_mode_notifies():
    assert plan(request("notify", "enforce"), None, ENFORCING, NOW, "enforce") == Notify()


@pytest.mark.parametrize("settings", [DRY, ENFORCING])
def test_enforce_non_destructive_goes_to_execution(settings):
    assert plan(request("tag"), None, settings, NOW, "enforce") == Execute()


@pytest.mark.parametrize("settings", [DRY, ENFORCING])
def test_enforce_destructive_is_announced_with_the_grace_period(settings):
    assert plan(request("stop"), None, settings, NOW, "enforce") == Announce(NOW + settings.grace_period)


def test_the_mode_and_destructiveness_are_the_executors_not_the_requests():
    # The request claims a harmless monitor-mode stop; the executor's own mode and catalogue decide.
    claims = request("stop", "monitor", destructive=False)
    assert plan(claims, None, ENFORCING, NOW, "enforce") == Announce(NOW + ENFORCING.grace_period)
    watched = plan(request("stop"), None, ENFORCING, NOW, "monitor")
    assert watched == Finish("monitored", "monitor mode: would stop ec2.instance i-0abc")
    assert not decide(request("tag"), LIVE, mode="notify", dry_run=False).act


def test_a_finished_action_is_never_started_again():
    req = request("stop")
    step = plan(req, entry(req, "done"), ENFORCING, NOW, req.mode)
    assert isinstance(step, Ignore)


def test_a_scheduled_action_waits_for_its_time():
    req = request("delete", type_name="ec2.volume", rid="vol-1")
    later = NOW + timedelta(minutes=5)
    assert plan(req, entry(req, "scheduled", not_before=later), ENFORCING, NOW, req.mode) == Wait(later)


def test_a_scheduled_action_runs_when_due():
    req = request("delete", type_name="ec2.volume", rid="vol-1")
    due = entry(req, "scheduled", not_before=NOW, announced_dry_run=False)
    assert plan(req, due, ENFORCING, NOW, req.mode) == Execute(scheduled=True)


@pytest.mark.parametrize(("stage", "expected"), [
    ("notify", Notify()),
    ("announce", Announce(NOW + timedelta(hours=1))),
    ("execute", Execute(scheduled=True, reconcile=True)),
])
def test_an_interrupted_step_is_resumed(stage, expected):
    req = request("stop")
    started = entry(req, "started", stage=stage, not_before=NOW + timedelta(hours=1))
    assert plan(req, started, ENFORCING, NOW, req.mode) == expected


def test_an_interrupted_non_destructive_execution_is_reconciled():
    req = request("tag")
    assert plan(req, entry(req, "started", stage="execute"), ENFORCING, NOW, req.mode) == Execute(reconcile=True)


def test_dry_run_unless_enforcing_and_announced_for_real():
    req = request("stop")
    assert effective_dry_run(None, DRY)
    assert not effective_dry_run(None, ENFORCING)
    assert effective_dry_run(entry(req, "scheduled", not_before=NOW, announced_dry_run=True), ENFORCING)
    assert effective_dry_run(entry(req, "scheduled", not_before=NOW, announced_dry_run=None), ENFORCING)
    assert not effective_dry_run(entry(req, "scheduled", not_before=NOW, announced_dry_run=False), ENFORCING)
    assert effective_dry_run(entry(req, "scheduled", not_before=NOW, announced_dry_run=False), DRY)


def test_decide_acts_only_in_enforce_without_dry_run():
    assert decide(request("tag"), LIVE, mode="enforce", dry_run=False).act
    dry = decide(request("tag"), LIVE, mode="enforce", dry_run=True)
    assert (dry.act, dry.status) == (False, "dry_run")
    assert "would tag ec2.instance i-0abc owner=alice" in dry.detail
    assert not decide(request("tag", "notify"), LIVE, mode="notify", dry_run=False).act


@pytest.mark.parametrize(("seen", "status", "words"), [
    (Inspection(exists=False), "skipped", "gone"),
    (Inspection(exists=True, protected=True), "skipped", "protected"),
    (Inspection(exists=True, done=True), "skipped", "already done"),
    (Inspection(exists=True, applies=False, detail="attached to i-1"), "skipped", "attached to i-1"),
])
def test_decide_refuses_with_a_reason(seen, status, words):
    decision = decide(request("tag"), seen, mode="enforce", dry_run=False)
    assert (decision.act, decision.status) == (False, status)
    assert words in decision.detail


@pytest.mark.parametrize("seen", [Inspection(exists=False), Inspection(exists=True, protected=True),
                                  Inspection(exists=True, applies=False, detail="attached to i-1")])
def test_a_scheduled_action_whose_resource_changed_is_cancelled(seen):
    decision = decide(request("delete", type_name="ec2.volume", rid="vol-1"), seen, mode="enforce", dry_run=False,
                      scheduled=True)
    assert (decision.act, decision.status) == (False, "cancelled")


def test_protection_wins_over_everything():
    seen = Inspection(exists=True, protected=True)
    for dry_run in (True, False):
        assert decide(request("stop"), seen, mode="enforce", dry_run=dry_run, scheduled=True).status == "cancelled"


def test_reconcile_after_a_crash_trusts_what_aws_shows():
    deleted = Inspection(exists=False, done=True)
    req = request("delete", type_name="ec2.volume", rid="vol-1")
    assert decide(req, deleted, mode=req.mode, dry_run=False, scheduled=True, reconcile=True).status == "executed"
    assert decide(req, deleted, mode=req.mode, dry_run=False, scheduled=True).status == "cancelled"
    assert decide(req, LIVE, mode=req.mode, dry_run=False, scheduled=True, reconcile=True).act


def test_only_what_could_happen_is_announced():
    req = request("delete", type_name="ec2.volume", rid="vol-1")
    assert vet_announcement(req, LIVE, "keep").act
    attached = vet_announcement(req, Inspection(exists=True, applies=False, detail="attached"), "keep")
    assert (attached.act, attached.status) == (False, "skipped")


def test_resource_ids_from_uids():
    assert resource_id("arn:aws:ec2:us-east-1:1:instance/i-0abc") == "i-0abc"
    assert resource_id("arn:aws:s3:::my-bucket") == "my-bucket"
    assert describe(request("untag", tags=["a", "b"])) == "untag ec2.instance i-0abc a, b"


def test_a_notice_carries_the_action_id_as_its_idempotency_key():
    req = request("stop")
    body = notice(req, kind="announcement", dry_run=False, not_before=NOW)
    assert body["action_id"] == req.event_id
    assert body["not_before"] == NOW.isoformat()
    assert "will stop ec2.instance i-0abc after 2026-11-28 12:00" in body["summary"]


def test_ledger_due_partitions_and_round_trip():
    ledger, req = Ledger(), request("stop")
    scheduled = entry(req, "scheduled", not_before=NOW, announced_dry_run=False)
    ledger.put(scheduled, 3)
    assert ledger.due(NOW - timedelta(seconds=1)) == []
    assert ledger.due(NOW) == [scheduled]
    assert type(scheduled).from_bytes(scheduled.to_bytes()) == scheduled
    ledger.drop_partitions({3})
    assert len(ledger) == 0


def test_results_are_deterministic_per_request_and_status():
    from streams.executor.plan import result_for

    req = request("tag")
    one = result_for(req, "executed", "x", dry_run=False, now=NOW)
    two = result_for(req, "executed", "y", dry_run=False, now=NOW + timedelta(seconds=1))
    assert isinstance(one, ActionResult) and one.event_id == two.event_id


@pytest.mark.parametrize("scheduled", [False, True])
def test_an_action_its_policy_no_longer_asks_for_is_cancelled(scheduled):
    seen = Inspection(exists=True, asked=False, asked_detail="policy p no longer asks for it")
    decision = decide(request("stop"), seen, mode="enforce", dry_run=False, scheduled=scheduled)
    assert (decision.act, decision.status) == (False, "cancelled")
    assert "no longer asks" in decision.detail
    assert not vet_announcement(request("stop"), seen, "keep").act


def test_a_result_notice_has_its_own_key_per_status():
    from streams.executor.plan import result_for

    req = request("stop")
    result = result_for(req, "executed", "stopped instance i-0abc", dry_run=False, now=NOW)
    body = notice(req, kind="executed", dry_run=False, not_before=None, result=result)
    assert body["idempotency_key"] == f"{req.event_id}:executed"
    assert body["summary"] == "executed (test_policy, because a test says so): stopped instance i-0abc"
    assert notice(req, kind="announcement", dry_run=False, not_before=NOW)["idempotency_key"] == req.event_id
