"""The pipeline's shard layout on Kafka: what the worker's store was built with.

The worker records ``kafka.shard_buckets`` on the compacted ``layout`` topic once its
store holds data in that layout. A worker or collector set to another value refuses
to start, naming the setting: its pages would land in other partitions and shards,
where the store cannot use them (streams/layout.py).
"""

from __future__ import annotations

import orjson

from elava.events import utcnow
from elava.exceptions import SettingsError
from elava.kafka.topic_read import read_to_end
from elava.settings import KafkaSettings
from elava.topics import Topics

KEY = b"shard_buckets"


class LayoutMismatch(SettingsError):
    """``kafka.shard_buckets`` differs from the layout the pipeline's store was built with."""


def layout_record(kafka: KafkaSettings, by: str) -> tuple[bytes, bytes]:
    """Key and value of the record saying the store is built with this ``shard_buckets``."""
    return KEY, orjson.dumps({"shard_buckets": kafka.shard_buckets, "recorded_at": utcnow().isoformat(), "by": by})


async def recorded_layout(kafka: KafkaSettings) -> int | None:
    """The ``shard_buckets`` last recorded on the layout topic, None if none was."""
    found = None
    for record in await read_to_end(kafka, Topics(kafka).layout):
        if record.key == KEY:
            found = orjson.loads(record.value)["shard_buckets"] if record.value else None
    return found


async def check_layout(kafka: KafkaSettings) -> None:
    """Refuse to start with another ``shard_buckets`` than the store was built with."""
    recorded = await recorded_layout(kafka)
    if recorded is not None and recorded != kafka.shard_buckets:
        raise LayoutMismatch(
            f"invalid setting 'kafka.shard_buckets': {kafka.shard_buckets}, but the worker's store on "
            f"{kafka.topic_prefix}.* was built with {recorded} (recorded on {Topics(kafka).layout}); "
            f"set kafka.shard_buckets to {recorded}")
