"""The shard layout (``kafka.shard_buckets``) a store's membership was built with.

Membership (``m\\x00<shard>\\x00<uid>``) is what a scan marker reads to infer
deletions: a marker of shard ``a/r/t/3`` deletes the members of that shard it did
not see. Built with 16 buckets and read with 10, ``a/r/t/3`` names other resources,
so unchanged ones would be "deleted" (and "created" again by the next scan). The
store therefore records its layout, and a different one is never applied as is:

- embedded (``elava scan``, one local store): ``align_layout`` moves every membership
  to the new buckets before the scan, so nothing changes but the keys;
- worker: the shard key also chose the Kafka partition (and with it the table
  partition), so memberships cannot move in place. ``LayoutGuard`` refuses a page or
  marker built with another layout, or a table partition built with another one,
  with a reason for the DLQ; nothing is applied and nothing deleted.

Pure core: no Kafka, no Faust.
"""

from __future__ import annotations

import logging

from elava.events import Event, MetricsObservation, Observation, ScanMarker
from elava.sharding import rebucket, split_shard
from streams.store.keyspaces import member_key
from streams.store.versioned import ShardLayout, VersionStore
from streams.store.waste import WasteStore

log = logging.getLogger(__name__)
SETTING = "kafka.shard_buckets"
CHUNK = 10_000  # memberships read per step of a migration


def align_layout(store: VersionStore, buckets: int) -> int:
    """Make membership follow ``buckets`` (embedded store); how many memberships moved.

    Safe to interrupt: the layout is recorded as incomplete first, so the next run
    migrates again (moving a membership is idempotent: its target depends only on uid).
    """
    recorded = store.shard_layout()
    if recorded == ShardLayout(buckets):
        return 0
    store.record_shard_layout(ShardLayout(buckets, complete=False))
    moved, after = 0, b""
    while chunk := store.members_after(after, CHUNK):
        for shard, uid in chunk:
            target = rebucket(shard, uid, buckets)
            if target != shard:
                store.move_member(uid, shard, target)
                moved += 1
        after = member_key(*chunk[-1])
    if recorded is not None and recorded.shard_buckets != buckets:
        store.drop_scan_records()  # "last scan of a/r/t/3" meant other resources
        WasteStore(store.kv).drop_judgements()  # and so did its last waste judgement
    store.record_shard_layout(ShardLayout(buckets))
    if moved:
        was = recorded.shard_buckets if recorded else "unrecorded"
        log.warning("store layout changed (%s %s -> %d): %d memberships moved", SETTING, was, buckets, moved)
    return moved


class LayoutGuard:
    """The worker's check, before a page or marker touches a table partition."""

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self._verified: set[int] = set()  # table partitions whose recorded layout is ours

    def refusal(self, event: Event, store: VersionStore, partition: int) -> str | None:
        """Why ``event`` must not be applied to ``store`` (table ``partition``), or None."""
        if not isinstance(event, Observation | ScanMarker | MetricsObservation):
            return None  # trail events only add evidence: they never create or delete
        problem = self._message_problem(event)
        if problem is None and partition not in self._verified:
            problem = self._store_problem(store, partition)
        if problem is None:
            return None
        return f"shard layout mismatch: {problem}; nothing was applied or deleted"

    def _message_problem(self, event: Observation | ScanMarker | MetricsObservation) -> str | None:
        kind = {Observation: "page", MetricsObservation: "metrics page"}.get(type(event), "scan marker")
        if event.shard_buckets is not None and event.shard_buckets != self.buckets:
            return (f"the {kind} was built with {SETTING}={event.shard_buckets}, "
                    f"this worker runs with {SETTING}={self.buckets}")
        try:
            _, bucket = split_shard(event.shard)
        except ValueError:
            return f"the {kind}'s shard {event.shard!r} is not account/region/type/bucket"
        if bucket >= self.buckets:
            return f"the {kind}'s shard {event.shard!r} is outside {SETTING}={self.buckets}"
        return None

    def _store_problem(self, store: VersionStore, partition: int) -> str | None:
        recorded = store.shard_layout()
        if recorded is None:
            store.record_shard_layout(ShardLayout(self.buckets))  # first use, or a store from before records
        elif recorded.shard_buckets != self.buckets:
            return (f"table partition {partition} was built with {SETTING}={recorded.shard_buckets}, "
                    f"this worker runs with {SETTING}={self.buckets}")
        self._verified.add(partition)
        return None
