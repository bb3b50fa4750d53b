"""The embedded driver: collectors feed the core in one process, no broker.

It is a ScanSink: the collector hands it pages and markers exactly as it would
publish them to Kafka, and it runs the same Observer and analyzers as the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elava.events import ChangeEvent, DriftEvent, Observation, ScanMarker
from streams.analyzers.drift import drift_for
from streams.observe import Observer
from streams.store.versioned import VersionStore


@dataclass
class Outputs:
    changes: list[ChangeEvent] = field(default_factory=list)
    drift: list[DriftEvent] = field(default_factory=list)
    markers: list[ScanMarker] = field(default_factory=list)

    def clear(self) -> None:
        self.changes.clear()
        self.drift.clear()
        self.markers.clear()


class EmbeddedPipeline:
    def __init__(self, store: VersionStore) -> None:
        self.observer = Observer(store)
        self.outputs = Outputs()

    async def page(self, obs: Observation) -> None:
        self._emit(self.observer.observe(obs))

    async def marker(self, marker: ScanMarker) -> None:
        self.outputs.markers.append(marker)
        self._emit(self.observer.close_scan(marker))

    def _emit(self, changes: list[ChangeEvent]) -> None:
        for change in changes:
            self.outputs.changes.append(change)
            drift = drift_for(change)
            if drift is not None:
                self.outputs.drift.append(drift)
