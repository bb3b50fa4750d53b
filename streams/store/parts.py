"""Parts of chunked messages (elava.parts) in the store, until their whole can be joined.

Kept per shard and scan (``p`` keys, streams/store/keyspaces.py). A later scan's marker
of the shard drops the parts of every other scan (streams/chunks.py); parts of a shard
that is never scanned again would stay forever, so the arrival of each scan's first
part is kept beside them and retention forgets the parts of a scan that began before
the window (``sweep``).
"""

from __future__ import annotations

from elava.parts import Part
from streams.store.evidence import Sweep
from streams.store.keyspaces import (
    PARTS_END,
    PARTS_START,
    SEP,
    part_key,
    parts_scan_prefix,
    parts_scan_prefix_of,
    parts_shard_prefix,
    parts_since_key,
    parts_whole_prefix,
)
from streams.store.kv import KV, drop_prefix

CURSOR = "parts"


class PartStore:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def keep(self, part: Part, now: int) -> None:
        """Store one part; the first of its scan also records when the scan's parts began."""
        since = parts_since_key(parts_scan_prefix(part.shard, part.scan_id))
        if self.kv.get(since) is None:
            self.kv.put(since, now.to_bytes(8, "big"))
        self.kv.put(part_key(part.shard, part.scan_id, part.whole_id, part.index), part.data)

    def parts_of(self, part: Part) -> list[tuple[int, bytes]]:
        """``(index, bytes)`` of every stored part of ``part``'s whole, in index order."""
        prefix = parts_whole_prefix(part.shard, part.scan_id, part.whole_id)
        return [(int.from_bytes(key[-4:], "big"), data) for key, data in self.kv.scan(prefix)]

    def forget_other_scans(self, shard: str, scan_id: str) -> None:
        keep = parts_scan_prefix(shard, scan_id)
        for key in [key for key, _ in self.kv.scan(parts_shard_prefix(shard)) if not key.startswith(keep)]:
            self.kv.delete(key)

    def sweep(self, cutoff: int, now: int, budget: int, cursor: bytes | None) -> tuple[Sweep, bytes | None]:
        """Forget the parts of scans whose first part arrived before ``cutoff``, visiting at most
        ``budget`` keys after ``cursor``; a scan found old goes whole, with its arrival time.

        A scan's parts stored without an arrival time (by an older version) get ``now``.
        """
        report, last, current, expired = Sweep(), None, None, []
        start = cursor + SEP if cursor else PARTS_START
        for key, _ in self.kv.scan_range(start, PARTS_END):
            if report.scanned == budget:
                break
            report.scanned += 1
            last, scan = key, parts_scan_prefix_of(key)
            if scan != current:
                current = scan
                if self._arrival(scan, now) < cutoff:
                    expired.append(scan)
        else:
            report.wrapped, last = True, None
        for scan in expired:
            report.dropped += drop_prefix(self.kv, scan)
        return report, last

    def _arrival(self, scan_prefix: bytes, now: int) -> int:
        since = parts_since_key(scan_prefix)
        stored = self.kv.get(since)
        if stored is None:
            self.kv.put(since, now.to_bytes(8, "big"))
            return now
        return int.from_bytes(stored, "big")
