"""CloudTrail evidence in the store: kept per resource and time, for attribution's join.

A trail event is kept under the resource it touched (``e`` keys, streams/store/keyspaces.py)
because CloudTrail delivers minutes, sometimes much longer, after the call; a version
observed later reads its resource's window of evidence as one range read. Retention
forgets evidence ``EVIDENCE_KEPT`` after the call (``sweep``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from streams.store.keyspaces import (
    EVIDENCE_END,
    EVIDENCE_START,
    SEP,
    evidence_bound,
    evidence_key,
    evidence_time,
)
from streams.store.kv import KV

CURSOR = "evidence"


@dataclass
class Sweep:
    """What one bounded step of a sweep did."""

    scanned: int = 0
    dropped: int = 0
    wrapped: bool = False  # reached the end of the keyspace: the next step starts again at the beginning


class EvidenceLog:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def keep(self, uid: str, at: int, event_id: str, data: bytes) -> None:
        self.kv.put(evidence_key(uid, at, event_id), data)

    def between(self, uid: str, start: int, end: int) -> Iterator[bytes]:
        """The evidence of ``uid`` whose call was in ``[start, end]`` (microseconds), oldest first."""
        for _, data in self.kv.scan_range(evidence_bound(uid, start), evidence_bound(uid, end + 1)):
            yield data

    def sweep(self, cutoff: int, budget: int, cursor: bytes | None) -> tuple[Sweep, bytes | None]:
        """Forget evidence of calls before ``cutoff``, visiting at most ``budget`` keys after ``cursor``.

        Keys are ordered by resource, not time, so this walks the whole keyspace in steps
        and starts again at the end; evidence lives one day, so the keyspace stays small.
        Returns the step's report and the cursor for the next step (None: from the start).
        """
        report, last = Sweep(), None
        start = cursor + SEP if cursor else EVIDENCE_START
        expired = []
        for key, _ in self.kv.scan_range(start, EVIDENCE_END):
            if report.scanned == budget:
                break
            report.scanned += 1
            last = key
            if evidence_time(key) < cutoff:
                expired.append(key)
        else:
            report.wrapped, last = True, None
        for key in expired:
            self.kv.delete(key)
        report.dropped = len(expired)
        return report, last
