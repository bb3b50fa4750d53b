"""What `elava drift`, `elava patterns`, ``/v1/drift`` and ``/v1/patterns`` answer, from a store.

Drift and the patterns of one resource are read as they were found and kept with their
versions (streams/store/findings.py); patterns across resources are computed over the
same window (fleet.py).
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.settings import PatternSettings
from streams.analyzers.fleet import fleet_patterns
from streams.analyzers.severity import RANK
from streams.store.findings import Findings
from streams.store.versioned import VersionStore

SEVERITIES = RANK


def drift_order(found: DriftEvent) -> tuple:
    """By time, then resource and version: how one store lists drift, and how merge.py merges lists."""
    return found.detected_at, found.uid, found.version or 0, found.event_id


def drift_report(store: VersionStore, since: datetime, until: datetime, severity: str = "info",
                 type_glob: str = "*") -> list[DriftEvent]:
    """Drift found on versions of ``[since, until]``, at ``severity`` or worse, of matching types, by time."""
    if severity not in RANK:
        raise ValueError(f"severity must be one of {', '.join(RANK)}, not {severity!r}")
    floor = RANK.index(severity)
    return sorted((found for found in Findings(store).between(since, until)
                   if isinstance(found, DriftEvent) and RANK.index(found.severity) >= floor
                   and fnmatchcase(found.type, type_glob)), key=drift_order)


def kept_patterns(store: VersionStore, since: datetime, until: datetime) -> list[PatternEvent]:
    """Patterns of one resource, kept with versions that began in the window."""
    return [found for found in Findings(store).between(since, until) if isinstance(found, PatternEvent)]


def chosen_patterns(every: list[PatternEvent], pattern: str | None = None) -> list[PatternEvent]:
    """Only ``pattern`` (if given), by time."""
    chosen = [p for p in every if pattern is None or p.pattern == pattern]
    return sorted(chosen, key=lambda p: (p.detected_at, p.uid, p.pattern, p.event_id))


def pattern_report(store: VersionStore, since: datetime, until: datetime,
                   settings: PatternSettings | None = None, pattern: str | None = None) -> list[PatternEvent]:
    """Patterns of one resource kept in the window, and those across resources found in it, by time."""
    return chosen_patterns(kept_patterns(store, since, until) + fleet_patterns(store, since, until, settings), pattern)
