"""The per-account/region rate limit on AWS calls (a token bucket), on virtual time."""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from types import SimpleNamespace

import pytest

from collectors.aws.calls import AwsCaller, Backoff, BoundClient, ClientPool, TokenBucket


class VirtualTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_calls_beyond_the_burst_wait_for_the_rate():
    time = VirtualTime()
    bucket = TokenBucket(5, clock=time.clock, sleep=time.sleep)
    granted = []

    async def call() -> None:
        await bucket.acquire()
        granted.append(time.now)

    await asyncio.gather(*(call() for _ in range(15)))

    assert granted[:5] == [0.0] * 5  # one second's worth at once
    assert granted[-1] == pytest.approx(2.0)  # then 5 a second: 10 more take 2 s
    for index, moment in enumerate(granted):  # never more than the burst plus the rate allow
        assert index + 1 <= 5 + 5 * moment + 1e-9


async def test_an_idle_bucket_refills_only_up_to_its_burst():
    time = VirtualTime()
    bucket = TokenBucket(2, clock=time.clock, sleep=time.sleep)
    time.now = 100.0  # idle for long
    for _ in range(3):
        await bucket.acquire()
    assert time.now == pytest.approx(100.5)


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        TokenBucket(0)


async def test_every_call_takes_a_token_from_its_region():
    time = VirtualTime()
    bound = BoundClient(SimpleNamespace(describe_things=_answer), asyncio.Semaphore(4), "us-east-1",
                        TokenBucket(1, clock=time.clock, sleep=time.sleep))
    caller = AwsCaller(Backoff(attempts=1), random.Random(0))

    for _ in range(3):
        assert await caller.call(bound, "describe_things", {}) == {"ok": True}

    assert time.now == pytest.approx(2.0) and caller.calls == 3


async def test_one_bucket_per_region_of_the_account_shared_by_its_services(session, aws):
    async with AsyncExitStack() as stack:
        pool = ClientPool(session, stack, max_concurrency=4, endpoint_url=aws, calls_per_second=10)
        ec2, iam = await pool.get("ec2", "us-east-1"), await pool.get("iam", "us-east-1")
        elsewhere = await pool.get("ec2", "eu-west-1")
        unlimited = await ClientPool(session, stack, max_concurrency=4, endpoint_url=aws).get("ec2", "us-east-1")

    assert ec2.limiter is iam.limiter and ec2.limiter is not elsewhere.limiter
    assert ec2.limiter.rate == 10 and unlimited.limiter is None


async def _answer() -> dict:
    return {"ok": True}


async def test_throttled_attempts_are_counted_apart_from_the_calls():
    from botocore.exceptions import ClientError

    answers = iter([ClientError({"Error": {"Code": "Throttling"}}, "DescribeThings"),
                    ClientError({"Error": {"Code": "RequestLimitExceeded"}}, "DescribeThings"), {"ok": True}])

    async def describe_things():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    bound = BoundClient(SimpleNamespace(describe_things=describe_things), asyncio.Semaphore(4), "us-east-1")
    caller = AwsCaller(Backoff(attempts=3, base_seconds=0), random.Random(0))
    assert await caller.call(bound, "describe_things", {}) == {"ok": True}
    assert (caller.calls, caller.throttles) == (3, 2)
