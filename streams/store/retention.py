"""Rolling retention: forget what is older than the window, in small steady steps.

A version whose validity ended before ``now - retention`` goes; the version valid at
the window's start stays, so an as-of query at the edge still answers. A resource
whose tombstone is older than the window goes entirely (head, versions, membership,
time-index entries).

The work follows the time index with a cursor (a key in the store), so each run
only looks at versions that began since the last run's cutoff: when the entry of
version N falls behind the cutoff, N is valid at the window's start or earlier and
every version before N has ended, so those go. A run stops after ``budget`` entries
and the next one continues, which keeps every run short however large the backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.store.versioned import TimeEntry, VersionStore, to_micros

CURSOR = "retention"
DEFAULT_BUDGET = 100_000


@dataclass
class RetentionReport:
    scanned: int = 0
    versions_dropped: int = 0
    resources_removed: int = 0
    caught_up: bool = True


def enforce_retention(store: VersionStore, retention: timedelta, now: datetime,
                      budget: int = DEFAULT_BUDGET) -> RetentionReport:
    """Drop what fell out of the window since the last run; at most ``budget`` entries."""
    cutoff = to_micros(now - retention)
    cursor = store.get_cursor(CURSOR)
    after = TimeEntry.from_key(cursor) if cursor else None
    report, last = RetentionReport(), None
    for entry in store.changed_between(0, cutoff, after=after):
        if report.scanned == budget:
            report.caught_up = False
            break
        report.scanned += 1
        _expire(store, entry, report)
        last = entry
    if last is not None:
        store.set_cursor(CURSOR, last.key)
    return report


def _expire(store: VersionStore, entry: TimeEntry, report: RetentionReport) -> None:
    """Version ``entry.version`` began before the cutoff: what it superseded has ended."""
    head = store.head_lead(entry.uid)  # no need to decode the resource to compare versions
    if head is None:
        store.drop_time_entry(entry)  # left behind by an interrupted run
        return
    older = store.versions_below(entry.uid, entry.version)
    if head.deleted and head.version == entry.version:
        tombstone = head.full()
        store.remove_resource(tombstone, [*older, tombstone])
        report.resources_removed += 1
        report.versions_dropped += len(older) + 1
        return
    store.drop_versions(older)
    report.versions_dropped += len(older)

