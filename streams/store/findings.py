"""Lifecycle patterns, kept with the version they were found on.

``f\\x00<uid>\\x00<version:4B>\\x00pattern:<name>:<subject>`` holds the event's JSON; a
replay writes the same bytes again (in the worker, a local write may have outlived its
changelog record). Retention drops them with their version. Reading "what was found
between T1 and T2" walks the time index of versions.

Drift is not kept: it is a function of a version's change and stored attribution, derived
where it is published (the drift stage, the embedded driver) and again where it is read
(streams/analyzers/reports.py). Stores written before that may hold ``drift`` records
under the same prefix: they are skipped here, and dropped with their versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from elava.analyzer_events import PatternEvent
from streams.store.keyspaces import findings_prefix
from streams.store.versioned import VersionStore, to_micros

PATTERN = b"pattern:"


def pattern_key(uid: str, version: int, pattern: PatternEvent) -> bytes:
    return findings_prefix(uid, version) + PATTERN + f"{pattern.pattern}:{pattern.subject or ''}".encode()


class Findings:
    def __init__(self, store: VersionStore) -> None:
        self.store = store

    def record_pattern(self, pattern: PatternEvent, version: int) -> None:
        self.store.kv.put(pattern_key(pattern.uid, version, pattern), pattern.to_bytes())

    def of_version(self, uid: str, version: int) -> list[PatternEvent]:
        prefix = findings_prefix(uid, version)
        return [PatternEvent.from_bytes(data) for key, data in self.store.kv.scan(prefix)
                if key[len(prefix):].startswith(PATTERN)]

    def between(self, since: datetime, until: datetime) -> Iterator[PatternEvent]:
        """Every pattern kept on a version that began in ``[since, until]``, by the version's time."""
        for entry in self.store.changed_between(to_micros(since), to_micros(until) + 1):
            yield from self.of_version(entry.uid, entry.version)
