"""CloudTrail evidence in the store: kept per resource and time, for attribution's join.

A trail event is kept under the resource it touched (``e`` keys, streams/store/keyspaces.py)
because CloudTrail delivers minutes, sometimes much longer, after the call; a version
observed later reads its resource's window of evidence as one range read. Retention
forgets evidence ``EVIDENCE_KEPT`` after the call (``sweep``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from streams.store.keyspaces import (
    EVIDENCE_END,
    EVIDENCE_START,
    SEP,
    evidence_bound,
    evidence_key,
    evidence_time,
)
from streams.store.kv import KV, RangeReader

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
        self._reader: RangeReader | None = None  # within ``read_together``
        self._none_kept: bool | None = None  # within it: no evidence at all (None: not read yet)

    @contextmanager
    def read_together(self) -> Iterator[None]:
        """The reads of one input share one reader of the store (streams/store/kv.py ``RangeReader``):
        a page's changes each read their resource's evidence, nearly always none, and a range
        read through a new iterator costs more than the seek of one kept for the input. Within
        an input only ``keep`` writes evidence (and makes the reader again); retention's sweep
        runs between inputs, with an evidence log of its own."""
        self._reader, self._none_kept = self.kv.ranges(), None
        try:
            yield
        finally:
            self._reader = None

    def keep(self, uid: str, at: int, event_id: str, data: bytes) -> None:
        self.kv.put(evidence_key(uid, at, event_id), data)
        self._read_again()

    def none_kept(self) -> bool:
        """Whether the store holds no evidence at all, known once per ``read_together``: a scan
        without CloudTrail (or a partition CloudTrail never named) then reads none per change."""
        if self._reader is None:
            return False
        if self._none_kept is None:
            self._none_kept = not self._reader.any_in(EVIDENCE_START, EVIDENCE_END)
        return self._none_kept

    def between(self, uid: str, start: int, end: int) -> list[bytes]:
        """The evidence of ``uid`` whose call was in ``[start, end]`` (microseconds), oldest first."""
        if self.none_kept():
            return []
        low, high = evidence_bound(uid, start), evidence_bound(uid, end + 1)
        found = self._reader.items(low, high) if self._reader is not None else self.kv.scan_range(low, high)
        return [data for _, data in found]

    def _read_again(self) -> None:
        """After a write of evidence: a reader made before it may not see it."""
        if self._reader is not None:
            self._reader, self._none_kept = self.kv.ranges(), None

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
