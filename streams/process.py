"""One partition's processing, shared by both drivers: input events in, output events out.

Observations and scan markers become versions and change events; every change is
attributed (CloudTrail evidence or tags) and, if it is drift, reported as drift
with its actor. A CloudTrail event is kept as evidence and may re-attribute a
version it explains better, which publishes the attribution and drift again.
Every attribution published is also checked against the policies (decisions and
actions), so a better attribution is checked again (same ids if the outcome is the same).
"""

from __future__ import annotations

from typing import Protocol

from elava.events import AttributedChange, ChangeEvent, Event, Observation, ScanMarker, TrailEvent
from streams.analyzers.drift import drift_for
from streams.attribution.join import Attributor
from streams.observe import Observer
from streams.store.versioned import VersionStore


class Policies(Protocol):
    """What the processor needs of the policy engine (streams.policy.PolicyEngine)."""

    def evaluate_many(self, batch: list[AttributedChange]) -> list[Event]: ...


class PartitionProcessor:
    def __init__(self, store: VersionStore, policies: Policies | None = None) -> None:
        self.attributor = Attributor(store)
        self.observer = Observer(store, annotate=self.attributor.annotate)
        self.policies = policies

    def process(self, event: Observation | ScanMarker | TrailEvent) -> list[Event]:
        if isinstance(event, Observation):
            outputs = self._outputs(self.observer.observe(event))
        elif isinstance(event, ScanMarker):
            outputs = self._outputs(self.observer.close_scan(event))
        else:
            outputs = [out for update in self.attributor.on_trail(event) for out in _attributed_outputs(update)]
        if self.policies is not None:
            # One batch per input message: the engine may live in another process.
            outputs.extend(self.policies.evaluate_many([o for o in outputs if isinstance(o, AttributedChange)]))
        return outputs

    def _outputs(self, changes: list[ChangeEvent]) -> list[Event]:
        outputs: list[Event] = []
        for change in changes:
            outputs.append(change)
            attributed = self.attributor.attributed(change)
            if attributed is not None:
                outputs.extend(_attributed_outputs(attributed))
            else:
                drift = drift_for(change)
                outputs.extend([drift] if drift is not None else [])
        return outputs


def _attributed_outputs(attributed: AttributedChange) -> list[Event]:
    drift = drift_for(attributed.change, attributed)
    return [attributed] + ([drift] if drift is not None else [])
