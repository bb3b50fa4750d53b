"""The embedded driver: collectors feed the core in one process, no broker.

It is a ScanSink: the collector hands it pages and markers exactly as it would
publish them to Kafka, and it runs the same partition processing as the worker.
Policies run as the policy stage runs them on Kafka: on the attributed changes of each
page once they are recorded, and a policy that fails gives a decision "error". With the
policies in their own process (IsolatedPolicies, what `elava scan` and `elava demo` run), a
page's changes are evaluated there while this process reads the next page; ``settle()`` (and
``finish()``) collect the decisions still out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from elava.analyzer_events import DriftEvent, PatternEvent, WasteFinding
from elava.events import (
    ActionRequest,
    AttributedChange,
    ChangeEvent,
    Event,
    MetricsObservation,
    Observation,
    PolicyDecision,
    ScanMarker,
    TrailEvent,
)
from elava.heap import SCAN_THRESHOLDS, tune_collector
from elava.settings import AnalyzerSettings
from streams.analyzers.fleet import completed_by
from streams.process import PartitionProcessor, Produced
from streams.store.batched import BatchedWrites
from streams.store.records import StoredRecord
from streams.store.versioned import VersionStore
from streams.waste_stage import waste_findings


class Policies(Protocol):
    """What the driver needs of the policies (streams.policy.isolated.IsolatedPolicies, or the
    engine itself): decisions for every change, a failing policy's as a decision "error"."""

    def decide_many(self, batch: list[AttributedChange]) -> list[Event]: ...


@runtime_checkable
class PoliciesApart(Policies, Protocol):
    """Policies evaluated in another process (IsolatedPolicies): a batch is handed over and its
    decisions collected later, so the driver reads the next page meanwhile, on another core."""

    def send_ahead(self, batch: list[AttributedChange], encoded: list[bytes | StoredRecord] | None = None) -> Any: ...
    def collect(self, ahead: Any) -> list[Event]: ...


@dataclass
class Outputs:
    changes: list[ChangeEvent] = field(default_factory=list)
    attributed: list[AttributedChange] = field(default_factory=list)
    drift: list[DriftEvent] = field(default_factory=list)
    patterns: list[PatternEvent] = field(default_factory=list)
    markers: list[ScanMarker] = field(default_factory=list)
    decisions: list[PolicyDecision] = field(default_factory=list)
    actions: list[ActionRequest] = field(default_factory=list)
    waste: list[WasteFinding] = field(default_factory=list)

    def add(self, produced: Produced) -> None:
        self.changes.extend(produced.changes)
        self.attributed.extend(produced.attributed)
        self.drift.extend(produced.drift)
        self.patterns.extend(produced.patterns)

    def add_policy_outputs(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, PolicyDecision):
                self.decisions.append(event)
            elif isinstance(event, ActionRequest):
                self.actions.append(event)

    def clear(self) -> None:
        for items in (self.changes, self.attributed, self.drift, self.patterns, self.markers, self.decisions,
                      self.actions, self.waste):
            items.clear()


class EmbeddedPipeline:
    def __init__(self, store: VersionStore, policies: Policies | None = None,
                 analyzer: AnalyzerSettings | None = None) -> None:
        analyzer = analyzer or AnalyzerSettings()
        tune_collector(SCAN_THRESHOLDS)  # a scan's heap grows by the page (elava/heap.py)
        # Each input's writes reach RocksDB as one batch when it is applied (streams/store/batched.py).
        self._writes = BatchedWrites(store.kv)
        store = VersionStore(self._writes)
        self.processor = PartitionProcessor(store, analyzer.drift, analyzer.patterns)
        self.waste = analyzer.waste
        self.patterns = analyzer.patterns
        self._unjudged: list[ChangeEvent] = []  # changes since the last finish(): what fleet patterns judge
        self.policies = policies
        self._ahead: Any = None  # the last page's changes, with the policies' process (PoliciesApart)
        self.store = store
        self.outputs = Outputs()

    async def page(self, obs: Observation) -> None:
        with self._applied():
            self._record(self.processor.process(obs))

    async def marker(self, marker: ScanMarker) -> None:
        self.outputs.markers.append(marker)
        with self._applied():
            self._record(self.processor.process(marker))
            self.outputs.waste.extend(waste_findings(self.store, self.waste, marker))

    async def metrics(self, metrics: MetricsObservation) -> None:
        with self._applied():
            self.outputs.waste.extend(waste_findings(self.store, self.waste, metrics))

    async def trail(self, event: TrailEvent) -> None:
        with self._applied():
            self._record(self.processor.process(event))

    @contextmanager
    def _applied(self) -> Iterator[None]:
        """One input: its writes flushed when it is handled, or when handling it failed."""
        try:
            yield
        finally:
            self._writes.flush()

    def settle(self) -> None:
        """The policies' decisions on every change recorded so far are in ``outputs``: those of the
        last page are made while the next one is read, so read ``outputs`` after this (or ``finish``)."""
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            self.outputs.add_policy_outputs(self.policies.collect(ahead))  # type: ignore[union-attr]

    def finish(self) -> None:
        """At the end of a scan: the policies' last decisions (``settle``) and the patterns across
        resources its changes complete, as the worker's fleet-pattern stage publishes them
        (streams/analyzers/fleet.py), under the same ids."""
        self.settle()
        if self.patterns.enabled:
            self.outputs.patterns.extend(completed_by(self.store, self._unjudged, self.patterns))
        self._unjudged.clear()

    def _record(self, produced: Produced) -> None:
        """The changes first (the store holds them already), then what the policies say of them."""
        self.outputs.add(produced)
        self._unjudged.extend(produced.changes)
        if self.policies is None or not produced.attributed:
            return
        self.settle()  # one batch with the policies' process at a time
        if isinstance(self.policies, PoliciesApart):
            # The records just stored, from which the policies' process rebuilds the changes (its core
            # is the one left free), or their bytes as the worker publishes them.
            self._ahead = self.policies.send_ahead(produced.attributed, produced.policy_items())
        else:
            self.outputs.add_policy_outputs(self.policies.decide_many(produced.attributed))
