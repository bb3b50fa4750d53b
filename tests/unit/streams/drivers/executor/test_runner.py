"""The runner: its refusals, its re-checks and its order of writes, with AWS on moto and Kafka left out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.settings import AwsSettings
from elava.signing import Keyring, Verdict
from streams.drivers.executor.aws import AwsEffectors
from streams.drivers.executor.runner import ActionRunner
from streams.executor.exceptions import NotificationError
from streams.executor.ledger import Ledger
from streams.policy.engine import PolicyEngine
from tests.unit.streams.drivers.executor.test_aws import instance, state_of, tags_of, volume
from tests.unit.streams.executor.fixtures import (
    DRY,
    ENFORCING,
    KEY,
    NOW,
    entry,
    genuine,
    policy_engine,
    resource,
    unattached,
    wanted,
)

PROTECT = "elava:protect"


class Trace:
    """One list of everything the runner did, in order: ledger writes, notices, AWS calls, results."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.results: list = []
        self.notices: list[dict] = []
        self.fail_notices = False

    async def write(self, entry, partition: int) -> None:
        self.events.append(("ledger", entry.state))

    async def send(self, notice: dict) -> None:
        if self.fail_notices:
            raise NotificationError("the webhook is down")
        self.events.append(("notice", notice["kind"]))
        self.notices.append(notice)

    async def publish(self, result) -> None:
        self.events.append(("result", result.status))
        self.results.append(result)


class TracedEffectors(AwsEffectors):
    def __init__(self, aws: AwsSettings, trace: Trace) -> None:
        super().__init__(aws)
        self.trace = trace

    async def apply(self, req):
        self.trace.events.append(("aws", req.action))
        return await super().apply(req)


@pytest.fixture
async def make(aws):
    made = []

    def runner(settings, clock=lambda: NOW, engine=None):
        trace = Trace()
        effectors = TracedEffectors(AwsSettings(endpoint_url=aws), trace)
        made.append(effectors)
        return ActionRunner(settings, engine or policy_engine(), Ledger(), trace, effectors, trace, trace.publish,
                            clock, principal="arn:aws:iam::123456789012:user/executor"), trace

    yield runner
    for effectors in made:
        await effectors.close()


def later(now: list, by: timedelta = ENFORCING.grace_period + timedelta(seconds=1)) -> None:
    now[0] = NOW + by


async def test_the_write_ahead_record_comes_before_the_aws_call(ec2, make):
    runner, trace = make(ENFORCING)
    await runner.handle(wanted("tag", instance(ec2, {"want": "tag"})), 0)
    assert trace.events == [("ledger", "started"), ("aws", "tag"), ("result", "executed"), ("notice", "executed"),
                            ("ledger", "done")]


async def test_dry_run_never_calls_aws(ec2, make):
    runner, trace = make(DRY)
    await runner.handle(wanted("tag", instance(ec2, {"want": "tag"})), 0)
    assert trace.events == [("result", "dry_run"), ("ledger", "done")]


async def test_destructive_is_announced_then_run_when_due(ec2, make):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    req = wanted("stop", instance(ec2, {"want": "stop"}))
    await runner.handle(req, 2)
    assert trace.events == [("ledger", "started"), ("notice", "announcement"), ("result", "scheduled"),
                            ("ledger", "scheduled")]
    await runner.run_due(lambda p: True)
    assert len(trace.events) == 4  # not yet due
    later(now)
    await runner.run_due(lambda p: True)
    assert trace.events[4:] == [("ledger", "started"), ("aws", "stop"), ("result", "executed"),
                                ("notice", "executed"), ("ledger", "done")]
    assert state_of(ec2, req.uid.rsplit("/", 1)[1]) in ("stopping", "stopped")
    await runner.handle(req, 2)  # a late redelivery
    assert len(trace.events) == 9


async def test_a_volume_attached_during_the_grace_period_is_cancelled(ec2, make):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    rid = volume(ec2)
    await runner.handle(unattached(rid), 0)
    ec2.attach_volume(VolumeId=rid, InstanceId=instance(ec2), Device="/dev/sdf")
    later(now)
    await runner.run_due(lambda p: True)
    assert trace.events[-3:] == [("result", "cancelled"), ("notice", "cancelled"), ("ledger", "done")]
    assert ("aws", "delete") not in trace.events


@pytest.mark.parametrize(("fix", "words"), [
    ("keep", "no longer asks"),        # the policy's own exclusion
    (PROTECT, "protected by tag"),     # the executor's protect tag
])
async def test_a_volume_fixed_during_the_grace_period_is_cancelled(ec2, make, fix, words):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    rid = volume(ec2)
    await runner.handle(unattached(rid), 0)
    ec2.create_tags(Resources=[rid], Tags=[{"Key": fix, "Value": "yes"}])
    later(now)
    await runner.run_due(lambda p: True)
    assert trace.results[-1].status == "cancelled" and words in trace.results[-1].detail
    assert ("aws", "delete") not in trace.events
    assert rid in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}


async def test_an_instance_given_its_missing_owner_tag_is_not_stopped(ec2, make):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    rid = instance(ec2, {"want": "stop"})
    await runner.handle(wanted("stop", rid), 0)
    ec2.create_tags(Resources=[rid], Tags=[{"Key": "owner", "Value": "bob"}])  # the reason for the stop is gone
    later(now)
    await runner.run_due(lambda p: True)
    assert trace.results[-1].status == "cancelled"
    assert "policy 'stop_untagged' no longer asks" in trace.results[-1].detail
    assert state_of(ec2, rid) == "running" and ("aws", "stop") not in trace.events


async def test_a_request_the_policy_does_not_make_on_the_resource_is_not_announced(ec2, make):
    runner, trace = make(ENFORCING)
    rid = instance(ec2, {"want": "stop", "owner": "bob"})  # the policy never asked to stop this one
    await runner.handle(wanted("stop", rid), 0)
    assert trace.events == [("result", "cancelled"), ("notice", "cancelled"), ("ledger", "done")]


async def test_no_announcement_no_schedule(ec2, make):
    runner, trace = make(ENFORCING)
    trace.fail_notices = True
    await runner.handle(wanted("stop", instance(ec2, {"want": "stop"})), 0)
    assert trace.events == [("ledger", "started"), ("result", "failed"), ("ledger", "done")]


async def test_a_scheduled_action_of_another_executor_is_left_alone(ec2, make):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    rid = instance(ec2, {"want": "stop"})
    await runner.handle(wanted("stop", rid), 5)
    later(now)  # due: only the partition's owner may run it
    before = list(trace.events)
    await runner.run_due(lambda p: p != 5)
    assert trace.events == before
    assert state_of(ec2, rid) == "running"
    await runner.run_due(lambda p: p == 5)  # the owner does run it: it was due
    assert ("aws", "stop") in trace.events[len(before):]


async def test_a_resource_that_is_gone_is_skipped_without_an_aws_call(ec2, make):
    runner, trace = make(ENFORCING)
    await runner.handle(wanted("tag", "i-0123456789abcdef0"), 0)
    assert trace.events == [("result", "skipped"), ("ledger", "done")]


async def test_an_aws_refusal_is_a_failed_result(ec2, make):
    runner, trace = make(ENFORCING)
    await runner.handle(wanted("many-tags", instance(ec2, {"want": "many-tags"})), 0)  # EC2 allows 50 tags
    assert trace.events == [("ledger", "started"), ("aws", "tag"), ("result", "failed"), ("notice", "failed"),
                            ("ledger", "done")]
    assert [call.operation for call in trace.results[-1].aws_calls][-1] == "ec2:create_tags"


async def test_a_result_carries_the_audit_trail(ec2, make):
    runner, trace = make(ENFORCING)
    req = wanted("tag", instance(ec2, {"want": "tag"}))
    await runner.handle(req, 0, Verdict("k1"))
    result = trace.results[-1]
    assert (result.status, result.signed_by) == ("executed", "k1")
    assert (result.change_id, result.attribution_id, result.decision_id) == (
        req.change_id, req.attribution_id, req.decision_id)
    assert result.change_id and result.attribution_id and result.decision_id
    assert result.principal.startswith("arn:aws:") and "123456789012" in result.principal
    operations = [call.operation for call in result.aws_calls]
    assert operations[-1] == "ec2:create_tags" and "ec2:describe_instances" in operations
    assert all(call.request_id for call in result.aws_calls)
    assert trace.notices[-1]["idempotency_key"] == f"{req.event_id}:executed"
    assert trace.notices[-1]["aws_request_ids"] == [call.request_id for call in result.aws_calls]


# --- requests the executor will not act on: rejected, nothing recorded, nothing done ----------

def _forged(ec2, **claims):
    req = wanted("stop", instance(ec2, {"want": "stop"}))
    return type(req)(**{**req.model_dump(exclude={"event_id"}), **claims})


@pytest.mark.parametrize(("claims", "words"), [
    ({"policy": "does_not_exist"}, "unknown policy 'does_not_exist'"),
    ({"destructive": False}, "destructive=False"),
    ({"mode": "notify"}, "mode 'notify'"),
    ({"type": "ec2.volume"}, "does not look at ec2.volume"),
    ({"action": "explode", "destructive": False}, "unknown action 'explode'"),
])
async def test_a_forged_request_is_rejected_and_nothing_happens(ec2, make, claims, words):
    runner, trace = make(ENFORCING)
    await runner.handle(_forged(ec2, **claims), 0)
    assert trace.events == [("result", "rejected")]
    assert words in trace.results[0].detail
    assert len(runner.ledger) == 0


async def test_an_action_the_policy_does_not_ask_for_is_cancelled_not_done(ec2, make):
    runner, trace = make(ENFORCING)
    forged = _forged(ec2, action="terminate")  # well-formed, but stop_untagged asks for a stop
    await runner.handle(forged, 0)
    assert trace.events == [("result", "cancelled"), ("notice", "cancelled"), ("ledger", "done")]
    assert "no longer asks for it" in trace.results[0].detail


async def test_a_request_whose_id_is_not_its_content_is_rejected(ec2, make):
    runner, trace = make(ENFORCING)
    genuine_one = wanted("stop", instance(ec2, {"want": "stop"}))
    other = wanted("tag", instance(ec2, {"want": "tag"}))
    await runner.handle(genuine_one, 0)
    posing = other.model_copy(update={"event_id": genuine_one.event_id})  # poses as the scheduled one
    await runner.handle(posing, 0)
    assert trace.results[-1].status == "rejected" and "event_id" in trace.results[-1].detail


@pytest.mark.parametrize(("headers", "words"), [
    ([], "unsigned"),
    ([("elava_key_id", b"k1"), ("elava_signature", b"hmac-sha256=00")], "bad signature"),
    ([("elava_key_id", b"k9"), ("elava_signature", b"hmac-sha256=00")], "unknown key 'k9'"),
])
async def test_an_unsigned_or_badly_signed_request_is_rejected(ec2, make, headers, words):
    runner, trace = make(ENFORCING)
    req = wanted("tag", instance(ec2, {"want": "tag"}))
    verdict = Keyring(dict([KEY])).verify(req.to_bytes(), headers)
    await runner.handle(req, 0, verdict)
    assert trace.events == [("result", "rejected")] and words in trace.results[0].detail


async def test_a_request_for_a_resource_in_another_account_is_rejected(ec2, make):
    runner, trace = make(ENFORCING)
    rid = instance(ec2, {"want": "tag"})
    elsewhere = resource("ec2.instance", rid, {"want": "tag"}, state="running").model_copy(
        update={"account": "999999999999", "uid": f"arn:aws:ec2:us-east-1:999999999999:instance/{rid}"})
    await runner.handle(genuine(elsewhere), 0)
    assert trace.results[-1].status == "rejected" and "999999999999" in trace.results[-1].detail
    assert tags_of(ec2, rid) == {"want": "tag"}


async def test_a_scheduled_action_whose_policy_was_removed_is_cancelled(ec2, make):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    rid = instance(ec2, {"want": "stop"})
    await runner.handle(wanted("stop", rid), 0)
    runner.engine = policy_engine("monitor")  # the executor restarted with a lower ceiling
    later(now)
    await runner.run_due(lambda p: True)
    assert trace.results[-1].status == "cancelled" and "no longer allowed" in trace.results[-1].detail
    assert state_of(ec2, rid) == "running"


async def test_an_interrupted_execution_whose_policy_went_is_reported_as_aws_shows_it(ec2, make):
    runner, trace = make(ENFORCING)
    done_before, not_done = instance(ec2, {"want": "tag"}), instance(ec2, {"want": "tag"})
    for rid in (done_before, not_done):
        req = wanted("tag", rid)
        runner.ledger.put(entry(req, "started", stage="execute"), 0)  # a crash after the write-ahead record
    ec2.create_tags(Resources=[done_before], Tags=[{"Key": "owner", "Value": "alice"}])  # ... and the call
    runner.engine = PolicyEngine([], "enforce")  # restarted without the policy
    await runner.resume_started(lambda p: True)
    status = {r.uid.rsplit("/", 1)[1]: r.status for r in trace.results}
    assert status == {done_before: "executed", not_done: "cancelled"}
    assert ("aws", "tag") not in trace.events
