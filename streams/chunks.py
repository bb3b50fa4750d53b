"""Joining chunked messages (`elava.parts`) again, in the partition's own store.

Parts are kept in the partition's KV — in the worker, the changelogged table — so a
crash or a rebalance between two parts loses nothing: whoever holds the partition
next has the parts seen so far. When the last part arrives the whole is parsed as if
it had come in one message. The parts stay until the shard's marker of a *later*
scan arrives: a whole that is handled again after a crash (its last part redelivered)
finds them still there and replays as any redelivered page does.

The parts are kept by the store (streams/store/parts.py), which also forgets those of
a shard that is never scanned again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from elava.events import Observation, ScanMarker, TrailEvent, utcnow
from elava.exceptions import SchemaError
from elava.parts import Part
from streams.inputs import parse_observation_message
from streams.pages import RawPage
from streams.store.kv import KV
from streams.store.parts import PartStore
from streams.store.versioned import to_micros

Input = Observation | RawPage | ScanMarker | TrailEvent  # a page read lazily comes whole (streams/pages.py)


class PartAssembler:
    def __init__(self, kv: KV, clock: Callable[[], datetime] = utcnow) -> None:
        self.parts, self.clock = PartStore(kv), clock

    def complete(self, event: Input | Part) -> Input | None:
        """The event to handle now: ``event`` itself, a whole joined from its parts, or
        None while parts are still on their way. Raises SchemaError for a bad whole."""
        if isinstance(event, Part):
            return self._add(event)
        if isinstance(event, ScanMarker):
            self.parts.forget_other_scans(event.shard, event.scan_id)
        return event

    def _add(self, part: Part) -> Input | None:
        self.parts.keep(part, to_micros(self.clock()))
        if not part.last:
            return None
        stored = self.parts.parts_of(part)
        missing = sorted(set(range(part.count)) - {index for index, _ in stored})
        if missing:
            raise SchemaError(f"last part of {part.whole_id} arrived without parts {missing} of {part.count}")
        whole = b"".join(data for index, data in stored if index < part.count)
        event = parse_observation_message(part.shard.encode(), whole, [("ce_type", part.whole_type.encode())])
        if event.event_id != part.whole_id:
            raise SchemaError(f"parts of {part.whole_id} joined into {event.event_id}")
        if isinstance(event, ScanMarker):
            self.parts.forget_other_scans(event.shard, event.scan_id)
        return event
