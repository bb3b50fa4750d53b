"""Publishing side of a collector: a ScanSink that writes to Kafka.

Pages and the per-shard scan markers go to ``observations`` keyed by shard key, so
a marker always follows the pages it closes in the same partition. A summary marker
per account/region/type goes to ``scan-markers`` for people and other systems.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from elava.events import Observation, ScanMarker
from elava.kafka import publish
from elava.topics import Topics

SOURCE = "elava/collector"


class KafkaSink:
    def __init__(self, producer: AIOKafkaProducer, topics: Topics) -> None:
        self.producer = producer
        self.topics = topics

    async def page(self, obs: Observation) -> None:
        await publish(self.producer, self.topics.observations, obs.shard, obs, SOURCE)

    async def marker(self, marker: ScanMarker) -> None:
        await publish(self.producer, self.topics.observations, marker.shard, marker, SOURCE)

    async def summary(self, marker: ScanMarker) -> None:
        key = f"{marker.account}/{marker.region}/{marker.type}"
        await publish(self.producer, self.topics.scan_markers, key, marker, SOURCE)
