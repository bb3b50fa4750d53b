"""Where the fleet-pattern stage starts reading: the lookback before the earliest change it may
judge, however long it was down, and never after the first change it has not judged."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka import TopicPartition

from streams.drivers.worker.fleet_stage import change_time, reread_since, start_offsets
from streams.store.versioned import to_micros
from tests.unit.streams.analyzers.fleet_cases import attributed, instance
from tests.unit.streams.fixtures import T0

HOUR = 3600 * 1_000_000
A, B = TopicPartition("changes", 0), TopicPartition("changes", 1)


def test_a_stage_down_for_days_reads_from_the_lookback_before_its_oldest_pending_change():
    present, oldest = 100 * HOUR, 20 * HOUR  # down for 80 hours, with the lookback one hour
    assert reread_since([oldest, 30 * HOUR], present, HOUR) == 19 * HOUR


def test_a_stage_down_briefly_reads_as_far_back_as_a_partition_never_committed_would_judge():
    assert reread_since([], 100 * HOUR, HOUR) == 98 * HOUR
    assert reread_since([100 * HOUR - 5], 100 * HOUR, HOUR) == 98 * HOUR


def test_an_unreadable_pending_change_reads_everything_again():
    assert reread_since([20 * HOUR, None], 100 * HOUR, HOUR) == 0


def test_the_start_is_never_after_the_committed_offset_and_a_partition_with_nothing_since_starts_at_its_end():
    starts = start_offsets([A, B], {A: 40}, ends={A: 90, B: 70}, committed={A: 25, B: None})
    assert starts == {A: 25, B: 70}
    assert start_offsets([A], {A: 10}, ends={A: 90}, committed={A: 25}) == {A: 10}


def test_a_change_happened_when_observed_or_when_recorded_if_earlier_or_unreadable():
    change = attributed(instance("i-1"), "modified", T0, 2)
    observed = to_micros(T0)
    assert change_time(SimpleNamespace(value=change.to_bytes(), timestamp=observed // 1000 + 60_000)) == observed
    assert change_time(SimpleNamespace(value=change.to_bytes(), timestamp=observed // 1000 - 1)) == observed - 1000
    assert change_time(SimpleNamespace(value=b"not json", timestamp=1234)) == 1_234_000
