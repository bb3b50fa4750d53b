"""Publishing side of a collector: a ScanSink that writes to Kafka.

Pages and the per-shard scan markers go to ``observations`` keyed by shard key, so
a marker always follows the pages it closes in the same partition. A summary marker
per account/region/type goes to ``scan-markers`` for people and other systems.

Nothing is fire-and-forget. A page or marker hands back its delivery (the producer's
futures, resolved when the broker acknowledges); the batcher awaits a shard's page
deliveries before its marker, and the marker's before it reports the scan. An event
whose bytes do not fit one message goes out in parts (`elava.parts`) that the worker
joins again.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from collectors.aws.batching import page_budget
from collectors.exceptions import DeliveryFailed
from elava.events import Event, MetricsObservation, Observation, ScanMarker, cloudevent_headers
from elava.parts import split
from elava.topics import Topics

SOURCE = "elava/collector"


class KafkaSink:
    def __init__(self, producer: AIOKafkaProducer, topics: Topics) -> None:
        self.producer = producer
        self.topics = topics
        self.part_bytes = page_budget(topics.max_message_bytes)

    async def page(self, obs: Observation) -> asyncio.Future:
        return await self._publish(self.topics.observations, obs.shard, obs, obs.scan_id)

    async def marker(self, marker: ScanMarker) -> asyncio.Future:
        return await self._publish(self.topics.observations, marker.shard, marker, marker.scan_id)

    async def metrics(self, obs: MetricsObservation) -> asyncio.Future:
        """Metric samples of a shard go where its pages go: the worker keeps them beside the resources."""
        return await self._publish(self.topics.observations, obs.shard, obs, obs.collection_id)

    async def summaries(self, markers: list[ScanMarker]) -> None:
        """Publish the summary markers, all enqueued before any is awaited."""
        deliveries = [await self._publish(self.topics.scan_markers, f"{m.account}/{m.region}/{m.type}", m, m.scan_id)
                      for m in markers]
        await _delivered(asyncio.gather(*deliveries))

    async def _publish(self, topic: str, key: str, event: Event, scan_id: str) -> asyncio.Future:
        """Enqueue ``event`` (in parts if it must be); the future of all its deliveries."""
        value = event.to_bytes()
        if len(value) <= self.part_bytes:
            messages = [(value, cloudevent_headers(event, SOURCE))]
        else:
            messages = split(event, value, self.part_bytes, SOURCE, scan_id)
        deliveries = []
        for data, headers in messages:
            try:
                deliveries.append(await self.producer.send(topic, value=data, key=key.encode(), headers=headers))
            except KafkaError as exc:  # refused before sending (too large, producer closed): lost all the same
                deliveries.append(_failed(exc))
                break
        return asyncio.gather(*deliveries)


def _failed(exc: BaseException) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


async def _delivered(delivery: asyncio.Future) -> None:
    try:
        await delivery
    except KafkaError as exc:
        raise DeliveryFailed(f"not delivered: {type(exc).__name__}: {exc}") from exc
