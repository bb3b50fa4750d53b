"""Where collectors hand their output: a page of observations, or a scan marker.

The streaming driver publishes to Kafka; the embedded driver and the tests keep them
in memory (`ListSink`). Collectors know only this protocol.

``page`` may return before the page is delivered, handing back its delivery (an
awaitable that raises if the page was lost); the batcher awaits it before the
shard's marker. A sink that is done when ``page`` returns hands back None.
``marker`` returns once the marker is delivered, or raises ``DeliveryFailed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from elava.events import Observation, ScanMarker

Delivery = Awaitable[object] | None


class ScanSink(Protocol):
    async def page(self, obs: Observation) -> Delivery: ...

    async def marker(self, marker: ScanMarker) -> None: ...


@dataclass
class ListSink:
    """Keeps everything it is given, in order (embedded mode, tests)."""

    observations: list[Observation] = field(default_factory=list)
    markers: list[ScanMarker] = field(default_factory=list)

    async def page(self, obs: Observation) -> None:
        self.observations.append(obs)

    async def marker(self, marker: ScanMarker) -> None:
        self.markers.append(marker)

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

    async def marker(self, marker: ScanMarker) -> None:
        for sink in self.sinks:
            await sink.marker(marker)
