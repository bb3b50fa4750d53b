"""Chunked messages: one event too large for a Kafka message, sent as ordered parts.

A collector splits its pages below the topic's ``max.message.bytes``; what still does
not fit (a single resource larger than the limit, a marker listing very many ids) is
cut into parts instead of being dropped. The parts are plain slices of the event's
JSON bytes, sent in order on the same key (so the same partition) as the whole would
have been, each with these headers beside the usual CloudEvents ones:

- ``ce_type``: ``elava.part``; ``ce_id``: ``<whole event id>/<index>``
- ``elava_whole_type``: the ``ce_type`` of the whole (``elava.observation``, ...)
- ``elava_whole_id``: the whole event's ``event_id``
- ``elava_scan_id``: the scan it belongs to (stale parts are dropped by scan)
- ``elava_part_index``, ``elava_part_count``: 0-based position and how many parts

The worker keeps the parts until the last one arrives, joins the bytes and handles
the whole exactly as if it had come in one message (same event id, same changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from elava.events import Event, cloudevent_headers
from elava.exceptions import SchemaError

PART_TYPE = "elava.part"
WHOLE_TYPE, WHOLE_ID, SCAN_ID = "elava_whole_type", "elava_whole_id", "elava_scan_id"
INDEX, COUNT = "elava_part_index", "elava_part_count"

Message = tuple[bytes, list[tuple[str, bytes]]]  # value, headers


@dataclass(frozen=True)
class Part:
    """One part of a chunked event, as read from a message."""

    shard: str
    whole_type: str
    whole_id: str
    scan_id: str
    index: int
    count: int
    data: bytes

    @property
    def last(self) -> bool:
        return self.index == self.count - 1


def split(event: Event, value: bytes, part_bytes: int, source: str, scan_id: str) -> list[Message]:
    """``value`` (the event's bytes) as parts of at most ``part_bytes`` each."""
    if part_bytes < 1:
        raise ValueError("part_bytes must be at least 1")
    slices = [value[start:start + part_bytes] for start in range(0, len(value), part_bytes)]
    messages = []
    for index, data in enumerate(slices):
        headers = [(name, content) for name, content in cloudevent_headers(event, source)
                   if name not in ("ce_id", "ce_type", "content-type")]
        headers += [("ce_id", f"{event.event_id}/{index}".encode()), ("ce_type", PART_TYPE.encode()),
                    ("content-type", b"application/octet-stream"),
                    (WHOLE_TYPE, event.ce_type.encode()), (WHOLE_ID, event.event_id.encode()),
                    (SCAN_ID, scan_id.encode()), (INDEX, str(index).encode()), (COUNT, str(len(slices)).encode())]
        messages.append((data, headers))
    return messages


def parse_part(key: bytes, value: bytes, headers: Iterable[tuple[str, bytes]]) -> Part:
    """A part from its message; anything missing or inconsistent raises SchemaError."""
    found = {name: content for name, content in headers}
    try:
        fields = {name: found[name].decode() for name in (WHOLE_TYPE, WHOLE_ID, SCAN_ID, INDEX, COUNT)}
        index, count = int(fields[INDEX]), int(fields[COUNT])
    except (KeyError, UnicodeDecodeError, ValueError) as exc:
        raise SchemaError(f"a part without valid part headers ({exc})") from None
    if not 0 <= index < count:
        raise SchemaError(f"part index {index} is outside 0..{count - 1}")
    if any("\x00" in text for text in fields.values()) or b"\x00" in key:
        raise SchemaError("a part whose key or headers hold a NUL byte")
    return Part(shard=key.decode(errors="replace"), whole_type=fields[WHOLE_TYPE], whole_id=fields[WHOLE_ID],
                scan_id=fields[SCAN_ID], index=index, count=count, data=value)
