"""Elava's metrics: one home for their names, units and attributes (docs/operations.md, Telemetry).

Counters are added to once per batch or page where the code already has the batch in
hand, not once per message. Consumer lag and store size are observed when a reader
collects (a Prometheus scrape, an OTLP export), from values the consumers keep current.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

# A store-size source: (partition, approximate bytes, approximate keys) of each partition it holds.
StoreSizes = Callable[[], Iterable[tuple[int, int, int]]]


class Instruments:
    def __init__(self, meter: Meter) -> None:
        counter = meter.create_counter
        self.observations = counter("elava.observations", "{resource}", "Resources observed, as the worker read them")
        self.changes = counter("elava.changes", "{change}", "Changes stored and published, by kind")
        self.drift = counter("elava.drift", "{event}", "Drift events, by severity")
        self.decisions = counter("elava.policy.decisions", "{decision}", "Policy decisions, by policy and decision")
        self.actions = counter("elava.actions.requested", "{request}", "Action requests published, by action")
        self.results = counter("elava.actions.results", "{result}", "Action results, by action and status")
        self.dlq = counter("elava.dlq", "{message}", "Messages put aside in the DLQ, by reason and part")
        self.aws_calls = counter("elava.aws.calls", "{call}", "AWS calls of scans (every attempt), by service")
        self.aws_throttles = counter("elava.aws.throttles", "{call}", "AWS calls refused as throttled, by service")
        self.scan_duration = meter.create_histogram("elava.scan.duration", "s", "Scan of one type in one region")
        self.lag: dict[tuple[str, str, int], int] = {}  # (group, topic, partition) -> records behind
        self.store_sources: list[StoreSizes] = []
        meter.create_observable_gauge("elava.consumer.lag", [self._observe_lag], "{record}",
                                      "Records between a consumer group's position and the end of the partition")
        meter.create_observable_gauge("elava.store.size", [self._observe_store_bytes], "By",
                                      "Approximate bytes of the store, per partition")
        meter.create_observable_gauge("elava.store.keys", [self._observe_store_keys], "{key}",
                                      "Approximate keys of the store, per partition")

    def count_each(self, counter: Any, values: Iterable[tuple[str, ...]], names: tuple[str, ...]) -> None:
        """One add per distinct attribute set: a batch of a thousand changes costs a few adds."""
        for key, amount in Counter(values).items():
            counter.add(amount, dict(zip(names, key, strict=True)))

    def _observe_lag(self, _options: CallbackOptions) -> Iterable[Observation]:
        for (group, topic, partition), behind in dict(self.lag).items():  # a copy: consumers keep writing
            yield Observation(behind, {"group": group, "topic": topic, "partition": partition})

    def _store(self) -> list[tuple[int, int, int]]:
        sizes = []
        for source in list(self.store_sources):
            try:
                sizes.extend(source())
            except Exception:  # noqa: BLE001 - a partition closing during a scrape is skipped, not fatal
                continue
        return sizes

    def _observe_store_bytes(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(size, {"partition": partition}) for partition, size, _ in self._store()]

    def _observe_store_keys(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(keys, {"partition": partition}) for partition, _, keys in self._store()]
