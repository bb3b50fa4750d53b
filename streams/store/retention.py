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

Evidence and the parts of chunked messages are ordered by resource and by shard, not
by time: each run also sweeps ``budget`` keys of each, from where the last run
stopped, and starts again at the beginning once it reaches the end. Evidence goes
``evidence_kept`` after its call; a scan's parts go once their first part is older than
the window. Every keyspace and its lifetime: streams/store/keyspaces.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from streams.store import evidence, parts, waste
from streams.store.evidence import EvidenceLog
from streams.store.keyspaces import EVIDENCE_KEPT
from streams.store.parts import PartStore
from streams.store.versioned import TimeEntry, VersionStore, to_micros
from streams.store.waste import WasteStore

CURSOR = "retention"
DEFAULT_BUDGET = 100_000


@dataclass
class RetentionReport:
    scanned: int = 0
    versions_dropped: int = 0
    resources_removed: int = 0
    caught_up: bool = True  # the walk of versions reached the cutoff
    evidence_dropped: int = 0
    parts_dropped: int = 0
    waste_dropped: int = 0  # metric samples, resolved findings (streams/store/waste.py)


def enforce_retention(store: VersionStore, retention: timedelta, now: datetime,
                      budget: int = DEFAULT_BUDGET, evidence_kept: timedelta = EVIDENCE_KEPT) -> RetentionReport:
    """Drop what fell out of the window since the last run: at most ``budget`` time-index
    entries, and ``budget`` keys of evidence and of parts each."""
    report = _expire_versions(store, to_micros(now - retention), budget)
    report.evidence_dropped = _sweep(store, evidence.CURSOR, lambda cursor: EvidenceLog(store.kv).sweep(
        to_micros(now - evidence_kept), budget, cursor))
    report.parts_dropped = _sweep(store, parts.CURSOR, lambda cursor: PartStore(store.kv).sweep(
        to_micros(now - retention), to_micros(now), budget, cursor))
    report.waste_dropped = _sweep(store, waste.CURSOR, lambda cursor: WasteStore(store.kv).sweep(
        to_micros(now - retention), budget, cursor))
    return report


def _sweep(store: VersionStore, name: str, step) -> int:
    """One bounded step of a sweep, continued from (and leaving) its cursor."""
    before = store.get_cursor(name) or None
    done, after = step(before)
    if after != before:  # in the worker every write is also a changelog record
        store.set_cursor(name, after or b"")
    return done.dropped


def _expire_versions(store: VersionStore, cutoff: int, budget: int) -> RetentionReport:
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



@dataclass
class RetentionPacer:
    """When each partition of a worker takes its next bounded step of retention.

    The worker runs a step between two input messages of a partition, at most once per
    ``every``: ``BUDGET`` entries of each walk take ~50 ms (docs/benchmarks.md, MVCC
    store), so retention keeps up with thousands of versions per second and never holds
    a partition for long. A partition that receives nothing grows nothing.
    """

    BUDGET = 2_000
    every: float = 5.0  # seconds
    clock: Callable[[], float] = time.monotonic
    _last: dict[int, float] = field(default_factory=dict)

    def due(self, partition: int) -> bool:
        now = self.clock()
        last = self._last.get(partition)
        if last is not None and now - last < self.every:
            return False
        self._last[partition] = now
        return True
