"""Where the worker's outputs go: one typed sink per output topic.

Every record is collected in the worker's batched sends (streams/drivers/worker/batch_send.py) while one
input message is handled and delivered before its offset is committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from elava.events import REATTRIBUTED, Event, TrailEvent, cloudevent_headers
from elava.topics import Topics
from streams.dlq.letters import Headers
from streams.drivers.worker.batch_send import BatchedSends
from streams.process import Produced
from streams.siem.sink import ocsf_copies


@dataclass(frozen=True)
class TopicSink:
    """Events of one kind onto one topic, keyed by the resource's uid."""

    sends: BatchedSends
    topic: str
    source: str

    async def send(self, uid: str, event: Event, data: bytes | None = None, again: bool = False) -> None:
        """``data``: ``event.to_bytes()`` when the caller made them already; ``again``: an
        attributed change of a version stored before (``REATTRIBUTED``)."""
        headers = cloudevent_headers(event, self.source)
        await self.sends.add_keyed(self.topic, uid.encode(), data or event.to_bytes(),
                                   [*headers, REATTRIBUTED] if again else headers)


@dataclass(frozen=True)
class OcsfSink:
    """The SIEM's view (streams/siem) of what the worker read and produced."""

    sends: BatchedSends
    topic: str
    source: str

    async def send(self, events: Iterable[Event]) -> None:
        # The worker maps no policy decisions to OCSF (the policy stage does): no severities needed.
        for event in events:
            for message in ocsf_copies(event, self.source, {}):
                await self.sends.add_keyed(self.topic, message.key, message.value, message.headers)


@dataclass(frozen=True)
class DeadLetterSink:
    """Dead letters: headers exactly as given, delivered before the commit like the rest."""

    sends: BatchedSends
    topic: str

    async def __call__(self, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await self.sends.add_keyed(self.topic, key, value, headers)


@dataclass(frozen=True)
class WorkerSinks:
    changes: TopicSink
    attributed: TopicSink
    drift: TopicSink
    patterns: TopicSink
    ocsf: OcsfSink
    dead_letters: DeadLetterSink
    waste: TopicSink

    @classmethod
    def on(cls, topics: Topics, sends: BatchedSends, source: str) -> WorkerSinks:
        return cls(changes=TopicSink(sends, topics.changes, source),
                   attributed=TopicSink(sends, topics.attributed_changes, source),
                   drift=TopicSink(sends, topics.drift, source), patterns=TopicSink(sends, topics.patterns, source),
                   ocsf=OcsfSink(sends, topics.ocsf, source),
                   dead_letters=DeadLetterSink(sends, topics.dlq), waste=TopicSink(sends, topics.waste, source))

    async def publish(self, read: Event, produced: Produced) -> None:
        """What one input produced, each event onto its topic, then their OCSF copies (and the input's)."""
        change_bytes = produced.change_bytes()
        for change in produced.changes:
            await self.changes.send(change.uid, change, change_bytes[change.event_id])
        # The change inside each is serialised once (above). A CloudTrail event's are re-attributions.
        again = isinstance(read, TrailEvent)
        for attributed, data in zip(produced.attributed, produced.attributed_bytes(change_bytes), strict=True):
            await self.attributed.send(attributed.change.uid, attributed, data, again)
        for drift in produced.drift:  # none where the drift stage derives it (the worker's default)
            await self.drift.send(drift.uid, drift)
        for finding in produced.waste:
            await self.waste.send(finding.uid, finding)
        for pattern in produced.patterns:
            await self.patterns.send(pattern.uid, pattern)
        await self.ocsf.send([read, *produced.events()])

