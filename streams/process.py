"""One partition's processing, shared by both drivers: an input event in, typed outputs out.

The path of one change, in order: observe decides it in memory (streams/observe.py:
the head it replaces, the new version, the change event); attribution judges who made
it from that and the CloudTrail evidence kept in the store (streams/attribution/join.py);
the version is stored once, with its attribution; the lifecycle patterns it completes are
found from the resource's versions (streams/analyzers/patterns.py) and kept with the
version (streams/store/findings.py). Drift is a function of the change and its attribution
(streams/analyzers/drift.py): the embedded driver derives it here (``drift_here``); the worker
leaves it to the drift stage, which reads the attributed changes it publishes
(streams/drivers/worker/drift_stage.py). Neither keeps it: a query derives it again.

A CloudTrail event is kept as evidence and may re-attribute a version it explains
better, which publishes the attribution (and so its drift) again. Policies are not evaluated
here: they read the attributed changes after they are published (the policy stage on
Kafka, the embedded driver after each page), so a policy that fails or hangs can
neither hold nor lose a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from elava.analyzer_events import DriftEvent, PatternEvent, WasteFinding
from elava.events import AttributedChange, ChangeEvent, Event, Observation, ScanMarker, TrailEvent
from elava.settings import DriftSettings, PatternSettings
from streams.analyzers.runner import Analyzers
from streams.attribution.join import Attributor
from streams.observe import Observed, Observer, Sighting
from streams.pages import RawPage
from streams.store.records import StoredRecord
from streams.store.versioned import VersionStore


@dataclass
class Produced:
    """What one input produced, by output topic, each in the order it was made."""

    changes: list[ChangeEvent] = field(default_factory=list)
    attributed: list[AttributedChange] = field(default_factory=list)
    drift: list[DriftEvent] = field(default_factory=list)
    waste: list[WasteFinding] = field(default_factory=list)  # added by the waste stage (streams/waste_stage.py)
    patterns: list[PatternEvent] = field(default_factory=list)
    # A change's resource and diff as its version stores them (JSON-mode dumps), by the change's
    # event id: what the worker writes the change's bytes from (ChangeEvent.to_bytes).
    stored: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=dict)
    # The same changes' version records as written, by the change's event id: what a scan hands its
    # policies' process, which rebuilds the attributed change from it (``policy_items``).
    records: dict[str, StoredRecord] = field(default_factory=dict)

    def change_bytes(self) -> dict[str, bytes]:
        """Each change's bytes by event id: written from its version's stored form where this input
        stored one (``ChangeEvent.to_bytes``), else by pydantic."""
        return {change.event_id: self.change_bytes_of(change) for change in self.changes}

    def attributed_bytes(self, change_bytes: dict[str, bytes] | None = None) -> list[bytes]:
        """The attributed changes' bytes, in order, each spliced from its change's (``change_bytes``)."""
        change_bytes = self.change_bytes() if change_bytes is None else change_bytes
        return [attributed.to_bytes(change_bytes.get(attributed.change.event_id)) for attributed in self.attributed]

    def policy_items(self) -> list[StoredRecord | bytes]:
        """Each attributed change, in order, as the policies' process takes it in a scan: its new
        version's record (the bytes written already: the process rebuilds the change from it,
        ``attributed_from_record``, on the core the scan leaves free), else its own bytes."""
        items: list[StoredRecord | bytes] = []
        for attributed in self.attributed:
            record = self.records.get(attributed.change.event_id)
            items.append(record if record is not None else attributed.to_bytes(self.change_bytes_of(attributed.change)))
        return items

    def change_bytes_of(self, change: ChangeEvent) -> bytes:
        return change.to_bytes(*self.stored.get(change.event_id, ()))

    def events(self) -> Iterator[Event]:
        yield from self.changes
        yield from self.attributed
        yield from self.drift
        yield from self.waste
        yield from self.patterns


class PartitionProcessor:
    """``drift``: ``enabled: false`` publishes no drift; ``attribution: false`` publishes drift
    without its actor, once (not again when CloudTrail names the actor later). ``drift_here``:
    false when a drift stage derives it from the published attributed changes instead."""

    def __init__(self, store: VersionStore, drift: DriftSettings | None = None,
                 patterns: PatternSettings | None = None, *, drift_here: bool = True) -> None:
        self.store = store
        self.drift = drift or DriftSettings()
        self.drift_here = drift_here
        self.observer = Observer(store)
        self.attributor = Attributor(store)
        self.analyzers = Analyzers(store, self.drift, patterns)

    def process(self, event: Observation | RawPage | ScanMarker | TrailEvent) -> Produced:
        with self.attributor.reading():
            return self._process(event)

    def _process(self, event: Observation | RawPage | ScanMarker | TrailEvent) -> Produced:
        produced = Produced()
        if isinstance(event, RawPage):  # validated where it differs from the store, before any write
            self._observe(self.observer.screen_with_heads(event), event.header, produced, from_json=True)
        elif isinstance(event, Observation):  # a collector's page: JSON's values (collectors/sink.py)
            self._observe(self.observer.with_heads(event), event, produced, from_json=True)
        elif isinstance(event, ScanMarker):
            for observed in list(self.observer.deletions(event)):
                self._store_and_report(observed, produced)
            self.observer.record_scan(event)  # last: see Observer.deletions
        else:
            for update in self.attributor.on_trail(event):
                produced.attributed.append(update)
                if self.drift.attribution:
                    self._add_drift(update.change, update, produced)
        return produced

    def _observe(self, sightings: Iterable[Sighting], page: Observation, produced: Produced,
                 from_json: bool = False) -> None:
        for resource, lead, content_hash in sightings:
            observed = self.observer.decide(resource, page, lead, content_hash, from_json)
            if observed is not None:
                self._store_and_report(observed, produced)

    def _store_and_report(self, observed: Observed, produced: Produced) -> None:
        attribution = self.attributor.attribute(observed)
        observed = observed.attributed(attribution.record() if attribution else None)
        record = self.observer.store_version(observed)
        produced.changes.append(observed.change)
        if record is not None and observed.version.resource is not None:
            # As decided now (a replay's stored form may be an older build's; a deletion's change
            # carries the last version seen instead).
            produced.stored[observed.change.event_id] = (observed.version.resource, observed.version.diff)
            produced.records[observed.change.event_id] = StoredRecord(observed.version.uid, record)
        attributed = attribution.event(observed.change) if attribution is not None else None
        if attributed is not None:
            produced.attributed.append(attributed)
        self._add_drift(observed.change, attributed if self.drift.attribution else None, produced)
        produced.patterns.extend(self.analyzers.patterns(observed.change, observed.version))  # as just written

    def _add_drift(self, change: ChangeEvent, attributed: AttributedChange | None, produced: Produced) -> None:
        if self.drift_here:
            produced.drift.extend(self.analyzers.drift(change, attributed))  # reads analyzer.drift.enabled
