"""The runner's order of writes and its refusals, with AWS on moto and Kafka left out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.settings import AwsSettings
from streams.executor.aws import AwsEffectors
from streams.executor.exceptions import NotificationError
from streams.executor.ledger import Ledger
from streams.executor.runner import ActionRunner
from tests.unit.streams.executor.fixtures import DRY, ENFORCING, NOW, request
from tests.unit.streams.executor.test_effectors import instance, state_of, volume


class Trace:
    """One list of everything the runner did, in order: ledger writes, notices, AWS calls, results."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.fail_notices = False

    async def write(self, entry, partition: int) -> None:
        self.events.append(("ledger", entry.state))

    async def send(self, notice: dict) -> None:
        if self.fail_notices:
            raise NotificationError("the webhook is down")
        self.events.append(("notice", notice["kind"]))

    async def publish(self, result) -> None:
        self.events.append(("result", result.status))


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

    def runner(settings, clock=lambda: NOW):
        trace = Trace()
        effectors = TracedEffectors(AwsSettings(endpoint_url=aws), trace)
        made.append(effectors)
        return ActionRunner(settings, Ledger(), trace, effectors, trace, trace.publish, clock), trace

    yield runner
    for effectors in made:
        await effectors.close()


async def test_the_write_ahead_record_comes_before_the_aws_call(ec2, make):
    runner, trace = make(ENFORCING)
    await runner.handle(request("tag", rid=instance(ec2)), 0)
    assert trace.events == [("ledger", "started"), ("aws", "tag"), ("result", "executed"), ("ledger", "done")]


async def test_dry_run_never_calls_aws(ec2, make):
    runner, trace = make(DRY)
    await runner.handle(request("tag", rid=instance(ec2)), 0)
    assert trace.events == [("result", "dry_run"), ("ledger", "done")]


async def test_destructive_is_announced_then_run_when_due(ec2, make):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    req = request("stop", rid=instance(ec2))
    await runner.handle(req, 2)
    assert trace.events == [("ledger", "started"), ("notice", "announcement"), ("result", "scheduled"),
                            ("ledger", "scheduled")]
    await runner.run_due(lambda p: True)
    assert len(trace.events) == 4  # not yet due
    now[0] = NOW + ENFORCING.grace_period + timedelta(seconds=1)
    await runner.run_due(lambda p: True)
    assert trace.events[4:] == [("ledger", "started"), ("aws", "stop"), ("result", "executed"), ("ledger", "done")]
    assert state_of(ec2, req.uid.rsplit("/", 1)[1]) in ("stopping", "stopped")
    await runner.handle(req, 2)  # a late redelivery
    assert len(trace.events) == 8


async def test_a_volume_attached_during_the_grace_period_is_cancelled(ec2, make):
    now = [NOW]
    runner, trace = make(ENFORCING, clock=lambda: now[0])
    rid = volume(ec2)
    await runner.handle(request("delete", type_name="ec2.volume", rid=rid), 0)
    ec2.attach_volume(VolumeId=rid, InstanceId=instance(ec2), Device="/dev/sdf")
    now[0] = NOW + ENFORCING.grace_period
    await runner.run_due(lambda p: True)
    assert trace.events[-2:] == [("result", "cancelled"), ("ledger", "done")]
    assert ("aws", "delete") not in trace.events


async def test_no_announcement_no_schedule(ec2, make):
    runner, trace = make(ENFORCING)
    trace.fail_notices = True
    await runner.handle(request("stop", rid=instance(ec2)), 0)
    assert trace.events == [("ledger", "started"), ("result", "failed"), ("ledger", "done")]


async def test_a_scheduled_action_of_another_executor_is_left_alone(ec2, make):
    runner, trace = make(ENFORCING, clock=lambda: NOW + timedelta(days=2))
    await runner.handle(request("stop", rid=instance(ec2)), 5)
    before = list(trace.events)
    await runner.run_due(lambda p: p != 5)
    assert trace.events == before


async def test_a_resource_that_is_gone_is_skipped_without_an_aws_call(ec2, make):
    runner, trace = make(ENFORCING)
    await runner.handle(request("tag", rid="i-0123456789abcdef0"), 0)
    assert trace.events == [("result", "skipped"), ("ledger", "done")]


async def test_an_aws_refusal_is_a_failed_result(ec2, make):
    runner, trace = make(ENFORCING)
    too_many = {f"key-{n}": "x" for n in range(60)}  # EC2 allows 50 tags a resource
    await runner.handle(request("tag", rid=instance(ec2), tags=too_many), 0)
    assert trace.events == [("ledger", "started"), ("aws", "tag"), ("result", "failed"), ("ledger", "done")]
