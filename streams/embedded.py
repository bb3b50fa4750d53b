"""The embedded driver: collectors feed the core in one process, no broker.

It is a ScanSink: the collector hands it pages and markers exactly as it would
publish them to Kafka, and it runs the same partition processing as the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elava.events import (
    ActionRequest,
    AttributedChange,
    ChangeEvent,
    DriftEvent,
    Event,
    Observation,
    PolicyDecision,
    ScanMarker,
    TrailEvent,
)
from streams.process import PartitionProcessor, Policies
from streams.store.versioned import VersionStore


@dataclass
class Outputs:
    changes: list[ChangeEvent] = field(default_factory=list)
    attributed: list[AttributedChange] = field(default_factory=list)
    drift: list[DriftEvent] = field(default_factory=list)
    markers: list[ScanMarker] = field(default_factory=list)
    decisions: list[PolicyDecision] = field(default_factory=list)
    actions: list[ActionRequest] = field(default_factory=list)

    def add(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ChangeEvent):
                self.changes.append(event)
            elif isinstance(event, AttributedChange):
                self.attributed.append(event)
            elif isinstance(event, DriftEvent):
                self.drift.append(event)
            elif isinstance(event, PolicyDecision):
                self.decisions.append(event)
            elif isinstance(event, ActionRequest):
                self.actions.append(event)

    def clear(self) -> None:
        for items in (self.changes, self.attributed, self.drift, self.markers, self.decisions, self.actions):
            items.clear()


class EmbeddedPipeline:
    def __init__(self, store: VersionStore, policies: Policies | None = None) -> None:
        self.processor = PartitionProcessor(store, policies)
        self.observer = self.processor.observer
        self.outputs = Outputs()

    async def page(self, obs: Observation) -> None:
        self.outputs.add(self.processor.process(obs))

    async def marker(self, marker: ScanMarker) -> None:
        self.outputs.markers.append(marker)
        self.outputs.add(self.processor.process(marker))

    async def trail(self, event: TrailEvent) -> None:
        self.outputs.add(self.processor.process(event))
