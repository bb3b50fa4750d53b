"""Joining chunked messages (`elava.parts`) again, in the partition's own store.

Parts are kept in the partition's KV — in the worker, the changelogged table — so a
crash or a rebalance between two parts loses nothing: whoever holds the partition
next has the parts seen so far. When the last part arrives the whole is parsed as if
it had come in one message. The parts stay until the shard's marker of a *later*
scan arrives: a whole that is handled again after a crash (its last part redelivered)
finds them still there and replays as any redelivered page does.

Keys: ``p\\x00<shard>\\x00<scan id>\\x00<whole id>\\x00<index:4B>`` -> the part's bytes.
"""

from __future__ import annotations

from elava.events import Observation, ScanMarker, TrailEvent
from elava.exceptions import SchemaError
from elava.parts import Part
from streams.inputs import parse_observation_message
from streams.store.kv import KV
from streams.store.versioned import SEP

Input = Observation | ScanMarker | TrailEvent


def _shard_prefix(shard: str) -> bytes:
    return b"p" + SEP + shard.encode() + SEP


def _whole_prefix(part: Part) -> bytes:
    return _shard_prefix(part.shard) + part.scan_id.encode() + SEP + part.whole_id.encode() + SEP


def part_key(part: Part) -> bytes:
    return _whole_prefix(part) + part.index.to_bytes(4, "big")


class PartAssembler:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def complete(self, event: Input | Part) -> Input | None:
        """The event to handle now: ``event`` itself, a whole joined from its parts, or
        None while parts are still on their way. Raises SchemaError for a bad whole."""
        if isinstance(event, Part):
            return self._add(event)
        if isinstance(event, ScanMarker):
            self._forget_other_scans(event.shard, event.scan_id)
        return event

    def _add(self, part: Part) -> Input | None:
        self.kv.put(part_key(part), part.data)
        if not part.last:
            return None
        stored = [(int.from_bytes(key[-4:], "big"), data) for key, data in self.kv.scan(_whole_prefix(part))]
        missing = sorted(set(range(part.count)) - {index for index, _ in stored})
        if missing:
            raise SchemaError(f"last part of {part.whole_id} arrived without parts {missing} of {part.count}")
        whole = b"".join(data for index, data in stored if index < part.count)
        event = parse_observation_message(part.shard.encode(), whole, [("ce_type", part.whole_type.encode())])
        if event.event_id != part.whole_id:
            raise SchemaError(f"parts of {part.whole_id} joined into {event.event_id}")
        if isinstance(event, ScanMarker):
            self._forget_other_scans(event.shard, event.scan_id)
        return event

    def _forget_other_scans(self, shard: str, scan_id: str) -> None:
        keep = _shard_prefix(shard) + scan_id.encode() + SEP
        for key in [key for key, _ in self.kv.scan(_shard_prefix(shard)) if not key.startswith(keep)]:
            self.kv.delete(key)
