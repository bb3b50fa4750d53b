"""One partition's processing, shared by both drivers: input events in, output events out.

Observations and scan markers become versions and change events; every change is
attributed (CloudTrail evidence or tags) and, if it is drift, reported as drift
with its actor; the lifecycle patterns it completes are reported too (streams/analyzers). A CloudTrail event is kept as evidence and may re-attribute a
version it explains better, which publishes the attribution and drift again.
Policies are not evaluated here: they read the attributed changes after they are
published (the policy stage on Kafka, the embedded driver after each page), so a
policy that fails or hangs can neither hold nor lose a change.
"""

from __future__ import annotations

from elava.events import ChangeEvent, Event, Observation, ScanMarker, TrailEvent
from elava.settings import AnalyzerSettings
from streams.analyzers.runner import Analyzers
from streams.attribution.join import Attributor
from streams.observe import Observer
from streams.store.versioned import VersionStore


class PartitionProcessor:
    def __init__(self, store: VersionStore, analyzer: AnalyzerSettings | None = None) -> None:
        self.attributor = Attributor(store)
        self.observer = Observer(store, annotate=self.attributor.annotate)
        self.analyzers = Analyzers(store, analyzer)

    def process(self, event: Observation | ScanMarker | TrailEvent) -> list[Event]:
        if isinstance(event, Observation):
            outputs = self._outputs(self.observer.observe(event))
        elif isinstance(event, ScanMarker):
            outputs = self._outputs(self.observer.close_scan(event))
        else:
            outputs = [out for update in self.attributor.on_trail(event)
                       for out in [update, *self.analyzers.drift_again(update)]]
        return outputs

    def _outputs(self, changes: list[ChangeEvent]) -> list[Event]:
        outputs: list[Event] = []
        for change in changes:
            outputs.append(change)
            attributed = self.attributor.attributed(change)
            outputs.extend([attributed] if attributed is not None else [])
            outputs.extend(self.analyzers.drift(change, attributed if self.analyzers.settings.drift.attribution else None))
            outputs.extend(self.analyzers.patterns(change))
        return outputs
