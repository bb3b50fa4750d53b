"""ShardBatcher: pages that fit their message, markers only after confirmed delivery."""

from __future__ import annotations

import asyncio

import pytest

from collectors.aws.batching import ScanScope, ShardBatcher, encoded_size, page_budget
from collectors.exceptions import DeliveryFailed, SinkError
from collectors.sink import ListSink, TeeSink
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, TYPE, sg

SCOPE = ScanScope("scan-1", ACCOUNT, REGION, TYPE, buckets=1, started_at=T0)


def rules(count: int, width: int = 60) -> list[dict]:
    """Ingress rules that make a security group of roughly ``count * (width + 60)`` bytes."""
    return [{"protocol": "tcp", "from": n, "to": n, "cidr": f"10.0.{n % 250}.0/24", "note": "n" * width}
            for n in range(count)]


async def batch_all(sink, resources, *, page_size=500, page_bytes=8_000):
    batcher = ShardBatcher(sink, SCOPE, page_size=page_size, page_bytes=page_bytes)
    for resource in resources:
        await batcher.add(resource)
    return batcher, await batcher.finish_ok(T0)


async def test_pages_close_before_their_bytes_pass_the_budget():
    resources = [sg(f"sg-{n}", ingress=rules(10)) for n in range(40)]  # ~1.3 KB each
    sink = ListSink()

    _, undelivered = await batch_all(sink, resources, page_bytes=8_000)

    assert undelivered == {}
    sizes = [len(page.to_bytes()) for page in sink.observations]
    assert len(sizes) > 5 and max(sizes) <= 8_000
    assert [r.uid for r in sink.resources()] == [r.uid for r in resources]  # all of them, in order
    assert [page.page for page in sink.observations] == list(range(len(sizes)))
    # Pages are filled, not just cut: the next resource would not have fitted.
    for page, following in zip(sink.observations, sink.observations[1:], strict=False):
        assert len(page.to_bytes()) + encoded_size(following.resources[0]) + 1 > 8_000


async def test_the_count_limit_still_applies_to_small_resources():
    sink = ListSink()
    await batch_all(sink, [sg(f"sg-{n}") for n in range(7)], page_size=3)
    assert [len(page.resources) for page in sink.observations] == [3, 3, 1]


async def test_a_resource_larger_than_the_budget_is_a_page_of_its_own():
    small, huge = sg("small-1"), sg("huge", ingress=rules(200))
    sink = ListSink()

    await batch_all(sink, [small, huge, sg("small-2")], page_bytes=8_000)

    assert encoded_size(huge) > 8_000
    assert [[r.id for r in page.resources] for page in sink.observations] == [["small-1"], ["huge"], ["small-2"]]
    assert sink.markers[0].ids == sorted(["small-1", "huge", "small-2"])


def test_the_page_budget_leaves_room_for_key_headers_and_framing():
    assert 0 < page_budget(1024 * 1024) < 1024 * 1024


class DeferredSink(ListSink):
    """Hands back a delivery per page, resolved only when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[asyncio.Future] = []
        self.markers_at_delivery: list[int] = []

    async def page(self, obs):
        await super().page(obs)
        self.pending.append(asyncio.get_running_loop().create_future())
        return self.pending[-1]

    async def marker(self, marker):
        self.markers_at_delivery.append(sum(1 for f in self.pending if f.done()))
        await super().marker(marker)


async def test_a_marker_waits_until_every_page_of_its_shard_is_delivered():
    sink = DeferredSink()
    batcher = ShardBatcher(sink, SCOPE, page_size=1, page_bytes=8_000)
    for n in range(3):
        await batcher.add(sg(f"sg-{n}"))
    finishing = asyncio.create_task(batcher.finish_ok(T0))
    for _ in range(10):
        await asyncio.sleep(0)  # let it run as far as it can
    assert not finishing.done() and sink.markers == []  # pages sent, not yet confirmed

    for future in sink.pending:
        future.set_result(None)
    assert await finishing == {}
    assert sink.markers_at_delivery == [3] and sink.markers[0].status == "ok"


async def test_a_lost_page_makes_its_shards_marker_failed_with_the_reason():
    sink = DeferredSink()
    batcher = ShardBatcher(sink, ScanScope("scan-1", ACCOUNT, REGION, TYPE, 2, T0), page_size=1, page_bytes=8_000)
    for n in range(6):
        await batcher.add(sg(f"sg-{n}"))
    lost_shard = sink.observations[1].shard
    for obs, future in zip(sink.observations, sink.pending, strict=True):
        if obs.page == 0 and obs.shard == lost_shard:
            future.set_exception(RuntimeError("MessageSizeTooLargeError"))
        else:
            future.set_result(None)

    undelivered = await batcher.finish_ok(T0)

    assert list(undelivered) == [lost_shard] and "page 0 not delivered" in undelivered[lost_shard]
    by_shard = {m.shard: m for m in sink.markers}
    lost = by_shard.pop(lost_shard)
    assert (lost.status, lost.error_class, lost.ids) == ("failed", "delivery-failed", [])
    assert "MessageSizeTooLargeError" in lost.error
    assert [m.status for m in by_shard.values()] == ["ok"]


async def test_a_marker_that_is_not_delivered_is_reported():
    class MarkerRefused(ListSink):
        async def marker(self, marker):
            raise DeliveryFailed("not delivered: KafkaTimeoutError")

    class MarkerLost(ListSink):
        async def marker(self, marker):
            lost = asyncio.get_running_loop().create_future()
            lost.set_exception(RuntimeError("NotLeaderForPartitionError"))
            return lost

    _, undelivered = await batch_all(MarkerRefused(), [sg("sg-1")])
    assert list(undelivered.values()) == ["not delivered: KafkaTimeoutError"]
    _, undelivered = await batch_all(MarkerLost(), [sg("sg-1")])
    assert list(undelivered.values()) == ["marker not delivered: RuntimeError: NotLeaderForPartitionError"]


async def test_a_failed_scan_still_collects_its_deliveries():
    sink = DeferredSink()
    batcher = ShardBatcher(sink, SCOPE, page_size=1, page_bytes=8_000)
    await batcher.add(sg("sg-1"))
    sink.pending[0].set_exception(RuntimeError("lost"))

    await batcher.finish_failed("throttled", "Throttling", T0)  # no "exception never retrieved"

    assert [(m.status, m.error_class) for m in sink.markers] == [("failed", "throttled")]


async def test_a_tee_hands_back_the_deliveries_of_its_sinks():
    first, second = DeferredSink(), ListSink()
    batcher = ShardBatcher(TeeSink(first, second), SCOPE, page_size=1, page_bytes=8_000)
    await batcher.add(sg("sg-1"))
    first.pending[0].set_exception(RuntimeError("lost in one of them"))

    assert list((await batcher.finish_ok(T0)).values()) == [
        "page 0 not delivered: RuntimeError: lost in one of them"]


async def test_a_sink_that_breaks_still_ends_the_scan():
    class Broken(ListSink):
        async def page(self, obs):
            raise ValueError("store is gone")

    with pytest.raises(SinkError, match="store is gone"):
        await batch_all(Broken(), [sg("sg-1")], page_size=1)
