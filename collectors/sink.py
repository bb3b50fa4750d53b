"""Where collectors hand their output: a page of observations, or a scan marker.

The streaming driver publishes to Kafka; the embedded driver and the tests keep them
in memory (`ListSink`). Collectors know only this protocol.

``page`` and ``marker`` may return before the event is delivered, handing back its
delivery (an awaitable that raises if it was lost); the batcher awaits a shard's
page deliveries before its marker, and the marker's before the scan is reported. A
sink that is done when the call returns hands back None; one that knows at once
that it could not deliver raises ``DeliveryFailed``.

A page's resources hold JSON's own values (str, int, float, bool, None, list, dict: the
collector builds them with ``to_json_safe``, collectors/aws/normalize.py), as a worker reads
them from Kafka: the embedded driver stores them as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from elava.events import MetricsObservation, Observation, ScanMarker

Delivery = Awaitable[object] | None


class ScanSink(Protocol):
    async def page(self, obs: Observation) -> Delivery: ...

    async def marker(self, marker: ScanMarker) -> Delivery: ...


@dataclass
class ListSink:
    """Keeps everything it is given, in order (embedded mode, tests)."""

    observations: list[Observation] = field(default_factory=list)
    markers: list[ScanMarker] = field(default_factory=list)
    metric_pages: list[MetricsObservation] = field(default_factory=list)

    async def page(self, obs: Observation) -> None:
        self.observations.append(obs)

    async def marker(self, marker: ScanMarker) -> None:
        self.markers.append(marker)

    async def metrics(self, obs: MetricsObservation) -> None:
        self.metric_pages.append(obs)

    def resources(self, type_name: str | None = None) -> list:
        """Every resource observed (optionally of one type), in arrival order."""
        return [
            resource
            for obs in self.observations
            if type_name is None or obs.type == type_name
            for resource in obs.resources
        ]


class TeeSink:
    """Hands everything to several sinks in turn (e.g. the store and a listing)."""

    def __init__(self, *sinks: ScanSink) -> None:
        self.sinks = sinks

    async def page(self, obs: Observation) -> Delivery:
        deliveries = [delivery for sink in self.sinks if (delivery := await sink.page(obs)) is not None]
        return asyncio.gather(*deliveries) if deliveries else None

    async def marker(self, marker: ScanMarker) -> Delivery:
        deliveries = [delivery for sink in self.sinks if (delivery := await sink.marker(marker)) is not None]
        return asyncio.gather(*deliveries) if deliveries else None

    async def metrics(self, obs: MetricsObservation) -> Delivery:
        """Metric samples (collectors/metrics) to the sinks that take them."""
        deliveries = [delivery for sink in self.sinks if hasattr(sink, "metrics")
                      and (delivery := await sink.metrics(obs)) is not None]
        return asyncio.gather(*deliveries) if deliveries else None
