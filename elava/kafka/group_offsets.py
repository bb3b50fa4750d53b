"""A consumer group's committed offsets, read with an admin client of its own."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from elava.kafka.clients import new_admin
from elava.settings import KafkaSettings


class GroupOffsets:
    """What ``group`` committed, per topic-partition; the client starts on first use and stays."""

    def __init__(self, kafka: KafkaSettings, group: str) -> None:
        self.kafka, self.group = kafka, group
        self._admin: Any = None

    async def committed(self, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The next offset the group reads, for each of ``parts`` it committed; raises KafkaError."""
        if self._admin is None:
            admin = new_admin(self.kafka)
            await admin.start()
            self._admin = admin
        answer = await self._admin.list_consumer_group_offsets(self.group, partitions=parts)
        return {tp: meta.offset for tp, meta in answer.items() if meta is not None and meta.offset >= 0}

    async def committed_one(self, topic: str, partition: int) -> int | None:
        part = TopicPartition(topic, partition)
        return (await self.committed([part])).get(part)
