"""The waste analyzer in either driver: one call per input, after its partition processing.

A successful scan marker evaluates its shard's resources; metric samples are kept and
evaluate theirs; nothing else concerns waste. The worker publishes the findings on
``elava.waste`` (keyed by uid) with their OCSF copies; the embedded driver keeps them.
"""

from __future__ import annotations

from elava.analyzer_events import WasteFinding
from elava.events import Event, MetricsObservation, ScanMarker
from elava.settings import WasteSettings
from streams.analyzers.waste.analyzer import WasteAnalyzer
from streams.store.versioned import VersionStore


def waste_findings(store: VersionStore, settings: WasteSettings, event: Event) -> list[WasteFinding]:
    if isinstance(event, MetricsObservation):
        return WasteAnalyzer(store, settings).on_metrics(event)
    if isinstance(event, ScanMarker):
        return WasteAnalyzer(store, settings).on_marker(event)
    return []
