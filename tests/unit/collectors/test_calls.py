"""The per-account/region rate limit on AWS calls (a token bucket), on virtual time."""

from __future__ import annotations

import asyncio

import pytest

from collectors.aws.calls import TokenBucket


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
