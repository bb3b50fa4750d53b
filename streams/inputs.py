"""Parse what arrives on the observations topic; anything odd raises SchemaError.

The worker sends whatever raises here to the dead-letter topic, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from elava.events import MetricsObservation, Observation, ScanMarker
from elava.exceptions import SchemaError
from elava.parts import PART_TYPE, Part, parse_part
from streams.pages import RawPage, read_page

INPUT_TYPES = {Observation.ce_type: Observation, ScanMarker.ce_type: ScanMarker,
               MetricsObservation.ce_type: MetricsObservation}


def header(headers: Iterable[tuple[str, bytes]] | dict | None, name: str) -> bytes | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == name:
            return value
    return None


def parse_observation_message(key: bytes | None, value: bytes | None,
                              headers) -> Observation | ScanMarker | MetricsObservation | Part:
    """A page, a marker, metric samples, or one part of a chunked one (joined by streams.chunks)."""
    return _parse(key, value, headers, lazy=False)


def read_observation_message(key: bytes | None, value: bytes | None,
                             headers) -> RawPage | Observation | ScanMarker | MetricsObservation | Part:
    """As ``parse_observation_message``, but a page comes as a ``RawPage`` whose resources the
    observer validates only where they differ from their heads (the worker's way, streams/pages.py);
    an ``Observation`` when only the full parse can read it."""
    return _parse(key, value, headers, lazy=True)


def _parse(key: bytes | None, value: bytes | None, headers, lazy: bool):
    if not key:
        raise SchemaError("empty key: observations are keyed by shard key")
    if not value:
        raise SchemaError("empty value")
    ce_type = header(headers, "ce_type")
    if ce_type == PART_TYPE.encode():
        return parse_part(key, value, headers.items() if isinstance(headers, dict) else headers)
    model = INPUT_TYPES.get(ce_type.decode(errors="replace")) if ce_type else None
    if model is None:
        raise SchemaError(f"unknown or missing ce_type header: {ce_type!r}")
    event = (read_page(value) if lazy and model is Observation else None) or model.from_bytes(value)
    if event.shard.encode() != key:
        raise SchemaError(f"key {key!r} does not match the shard {event.shard!r} in the body")
    return event
