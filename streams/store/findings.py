"""Drift and lifecycle patterns, kept with the version they were found on.

``f\\x00<uid>\\x00<version:4B>\\x00<finding>`` holds the event's JSON, where ``finding`` is
``drift`` or ``pattern:<name>:<subject>``. A drift re-reported with a better actor
overwrites its record; a replay writes the same bytes again (in the worker, a local
write may have outlived its changelog record). Retention drops them with their version.
Reading "what was found between T1 and T2" walks the time index of versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.events import Event
from streams.store.keyspaces import findings_prefix
from streams.store.versioned import VersionStore, to_micros

DRIFT = b"drift"
PATTERN = b"pattern:"


def drift_key(uid: str, version: int) -> bytes:
    return findings_prefix(uid, version) + DRIFT


def pattern_key(uid: str, version: int, pattern: PatternEvent) -> bytes:
    return findings_prefix(uid, version) + PATTERN + f"{pattern.pattern}:{pattern.subject or ''}".encode()


def _decode(name: bytes, data: bytes) -> Event:
    return DriftEvent.from_bytes(data) if name == DRIFT else PatternEvent.from_bytes(data)


class Findings:
    def __init__(self, store: VersionStore) -> None:
        self.store = store

    def record_drift(self, drift: DriftEvent) -> bytes:
        """Kept with its version; the bytes it is kept as (the worker publishes the same)."""
        data = drift.to_bytes()
        if drift.version is not None:
            self.store.kv.put(drift_key(drift.uid, drift.version), data)
        return data

    def record_pattern(self, pattern: PatternEvent, version: int) -> None:
        self.store.kv.put(pattern_key(pattern.uid, version, pattern), pattern.to_bytes())

    def of_version(self, uid: str, version: int) -> list[Event]:
        prefix = findings_prefix(uid, version)
        return [_decode(key[len(prefix):], data) for key, data in self.store.kv.scan(prefix)]

    def drift_of(self, uid: str, version: int) -> DriftEvent | None:
        data = self.store.kv.get(drift_key(uid, version))
        return DriftEvent.from_bytes(data) if data is not None else None

    def between(self, since: datetime, until: datetime) -> Iterator[Event]:
        """Every finding on a version that began in ``[since, until]``, by the version's time."""
        for entry in self.store.changed_between(to_micros(since), to_micros(until) + 1):
            yield from self.of_version(entry.uid, entry.version)
