"""The worker's side of the shard layout: the guard (streams/layout.py) on every page and
marker, and the pipeline's layout record on Kafka once the store holds this layout, so
that collectors and workers set to another ``kafka.shard_buckets`` refuse to start."""

from __future__ import annotations

from elava.events import Event, Observation, ScanMarker
from elava.kafka.layout_record import layout_record
from elava.settings import KafkaSettings
from elava.topics import Topics
from streams.drivers.worker.batch_send import BatchedSends
from streams.layout import LayoutGuard
from streams.store.versioned import VersionStore


class WorkerLayout:
    def __init__(self, kafka: KafkaSettings, sends: BatchedSends, source: str) -> None:
        self.guard = LayoutGuard(kafka.shard_buckets)
        self.sends, self.kafka, self.source = sends, kafka, source
        self.recorded = False

    async def refusal(self, event: Event, store: VersionStore, partition: int) -> str | None:
        """Why ``event`` must go to the DLQ instead of the store, or None (see LayoutGuard)."""
        refusal = self.guard.refusal(event, store, partition)
        if refusal is None and not self.recorded and isinstance(event, Observation | ScanMarker):
            # Once per process: the table partition now records this layout (compacted: one record stays).
            await self.sends.add_keyed(Topics(self.kafka).layout, *layout_record(self.kafka, self.source), ())
            self.recorded = True
        return refusal
