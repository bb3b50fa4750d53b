"""What `elava drift`, `elava patterns`, ``/v1/drift`` and ``/v1/patterns`` answer, from a store.

Drift is derived from each version of the window (its change and stored attribution) by the
same analyzer that published it, under the settings of the reader; the patterns of one resource
are read as they were kept with their versions (streams/store/findings.py); patterns across
resources are computed over the same window (fleet.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from fnmatch import fnmatchcase

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.settings import DriftSettings, PatternSettings
from streams.analyzers.drift import DriftAnalyzer
from streams.analyzers.fleet import fleet_patterns
from streams.analyzers.severity import RANK
from streams.attribution.join import VersionAttribution
from streams.observe import change_from_version
from streams.store.findings import Findings
from streams.store.records import Version
from streams.store.versioned import TimeEntry, VersionStore, to_micros

SEVERITIES = RANK
VERSIONS_READ_TOGETHER = 256  # a window's versions are read in MultiGets of this many, not all at once


def drift_order(found: DriftEvent) -> tuple:
    """By time, then resource and version: how one store lists drift, and how merge.py merges lists."""
    return found.detected_at, found.uid, found.version or 0, found.event_id


def drift_of_version(analyzer: DriftAnalyzer, version: Version) -> DriftEvent | None:
    """The drift of a stored version: what was published for it (the same event, the same id),
    from its change and the attribution stored with it, judged by ``analyzer``."""
    if version.kind != "modified" or not version.diff or version.resource is None:
        return None
    change = change_from_version(version, None)
    attributed = None
    if version.attribution is not None:
        attributed = VersionAttribution.from_record(version.attribution).event(change)
    return analyzer.drift_for(change, attributed)


def drift_report(store: VersionStore, since: datetime, until: datetime, severity: str = "info",
                 type_glob: str = "*", settings: DriftSettings | None = None) -> list[DriftEvent]:
    """Drift on versions of ``[since, until]``, at ``severity`` or worse, of matching types, by time."""
    if severity not in RANK:
        raise ValueError(f"severity must be one of {', '.join(RANK)}, not {severity!r}")
    settings = settings or DriftSettings()
    if not settings.enabled:
        return []
    floor, analyzer = RANK.index(severity), DriftAnalyzer(settings)
    every = (drift_of_version(analyzer, version) for version in _versions_between(store, since, until))
    found = [drift for drift in every
             if drift is not None and RANK.index(drift.severity) >= floor and fnmatchcase(drift.type, type_glob)]
    return sorted(found, key=drift_order)


def _versions_between(store: VersionStore, since: datetime, until: datetime) -> Iterator[Version]:
    """The versions that began in ``[since, until]``, read a chunk at a time (one MultiGet each)."""
    chunk: list[TimeEntry] = []
    for entry in store.changed_between(to_micros(since), to_micros(until) + 1):
        chunk.append(entry)
        if len(chunk) == VERSIONS_READ_TOGETHER:
            yield from store.versions_of(chunk)
            chunk = []
    yield from store.versions_of(chunk)


def kept_patterns(store: VersionStore, since: datetime, until: datetime) -> list[PatternEvent]:
    """Patterns of one resource, kept with versions that began in the window."""
    return list(Findings(store).between(since, until))


def chosen_patterns(every: list[PatternEvent], pattern: str | None = None) -> list[PatternEvent]:
    """Only ``pattern`` (if given), by time."""
    chosen = [p for p in every if pattern is None or p.pattern == pattern]
    return sorted(chosen, key=lambda p: (p.detected_at, p.uid, p.pattern, p.event_id))


def pattern_report(store: VersionStore, since: datetime, until: datetime,
                   settings: PatternSettings | None = None, pattern: str | None = None) -> list[PatternEvent]:
    """Patterns of one resource kept in the window, and those across resources found in it, by time."""
    return chosen_patterns(kept_patterns(store, since, until) + fleet_patterns(store, since, until, settings), pattern)
