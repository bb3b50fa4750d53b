"""Every key the store writes, and how long each kind is kept: the one key layout.

One prefix byte per keyspace, then ``\\x00``-separated parts (``\\x00`` never occurs in
a uid, a shard key, a scan id or an event id; numbers are big-endian, so keys sort by
them). Nothing else writes to a store's KV: a test walks a store after the pipeline and
retention have run and finds no key outside ``KEYSPACES``.

| prefix | key | holds | kept |
|---|---|---|---|
| ``h`` | ``h\\x00<uid>`` | head: the latest version's leading fields, shard and resource id, account, region and type (streams/store/records.py, ``head_record``; a store written before may hold it whole) | until its tombstone is older than ``storage.retention`` |
| ``v`` | ``v\\x00<uid>\\x00<version:4B>`` | one record per version | until a later version began before the window's start |
| ``t`` | ``t\\x00<valid_from:8B>\\x00<uid>\\x00<version:4B>`` | time index ("what changed between T1 and T2") | with its version |
| ``k`` | ``k\\x00<shard>\\x00<valid_from:8B>\\x00<uid>\\x00<version:4B>`` | the time index of one shard ("which members changed since the last waste judgement") | with its version |
| ``m`` | ``m\\x00<shard>\\x00<uid>`` | shard membership (deletions by scan markers); holds the resource's id (empty in older stores) | with its resource |
| ``s`` | ``s\\x00<shard>`` | the shard's last scan marker ("last seen") | one per shard, replaced by the next |
| ``e`` | ``e\\x00<uid>\\x00<event time:8B>\\x00<event id>`` | CloudTrail evidence for attribution | ``EVIDENCE_KEPT`` after the call |
| ``p`` | ``p\\x00<shard>\\x00<scan>\\x00<whole id>\\x00<index:4B>`` | parts of a chunked message (streams/chunks.py) | until a later scan's marker of the shard, at most ``storage.retention`` |
| ``p`` | ``p\\x00<shard>\\x00<scan>\\x00\\x00`` | when the first part of that scan arrived | with the scan's parts |
| ``f`` | ``f\\x00<uid>\\x00<version:4B>\\x00<finding>`` | lifecycle patterns found on a version (streams/store/findings.py; drift is derived on read) | with its version |
| ``r`` | ``r\\x00<target uid>\\x00<source uid>`` | "what uses this": some kept version of the source has an edge to the target (its versions say which, and when) | written with the first version that has the edge; dropped with the last one (retention of ``v``) |
| ``c`` | ``c\\x00<name>`` | cursors of retention's walks | one per walk, replaced |
| ``l`` | ``l\\x00shard_buckets`` | the shard layout membership follows (streams/layout.py) | one key, replaced |
| ``o`` | ``o\\x00<topic>\\x00<partition:4B>`` | the worker's last input message applied from that topic-partition (streams/drivers/worker/input_gaps.py) | one per input partition, replaced |
| ``w`` | ``w\\x00<uid>\\x00<rule>`` | a waste finding's state and last event (streams/store/waste.py) | resolved: until ``storage.retention`` after |
| ``x`` | ``x\\x00<uid>`` | a resource's latest metric sample | until ``storage.retention`` after it was observed |
| ``y`` | ``y\\x00<observed_at:8B>\\x00<uid>`` | every metric sample, by time (history) | ``storage.retention`` |
| ``j`` | ``j\\x00<shard>`` | the waste analyzer's last judgement of the shard (which marker, whether it judged every member) | one per shard, replaced by the next |
| ``j`` | ``j\\x00<shard>\\x00changes`` | from when the shard's ``k`` entries are complete (streams/analyzers/waste/analyzer.py) | one per shard |
| ``\\x00`` | ``\\x00format`` | the embedded store's format (streams/store/kv.py) | one key |

Retention (streams/store/retention.py) walks ``t`` (and through it ``h``, ``v``, ``k``, ``m``, ``f``, ``r``),
``e``, ``p``, and ``y``, ``w`` and ``x`` (streams/store/waste.py); the others are bounded by
what they describe (one per shard, per walk, per store).

``h``, ``t``, ``k`` and ``r`` are derived: each is a function of the ``v`` records (the head is
the highest version, a time-index entry is its version's start, in the partition and in its
shard, a "used by" entry is an edge of a kept version). The worker's changelog carries no writes of them, only their
deletions, and a store restored from the changelog rebuilds them from the versions
(streams/store/changelog.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

SEP = b"\x00"

# CloudTrail evidence explains a version observed up to a day after the call (the
# attribution lookback), with 15 minutes of slack for a scan's duration: kept that long.
EVIDENCE_LOOKBACK = timedelta(hours=24)
EVIDENCE_SLACK = timedelta(minutes=15)
EVIDENCE_KEPT = EVIDENCE_LOOKBACK + EVIDENCE_SLACK


@dataclass(frozen=True)
class Keyspace:
    name: str
    expires: bool  # walked by retention; otherwise bounded by what it describes
    derived: bool = False  # rebuilt from the versions on restore: the changelog carries no writes of it


KEYSPACES: dict[bytes, Keyspace] = {
    b"h": Keyspace("heads", expires=True, derived=True), b"v": Keyspace("versions", expires=True),
    b"t": Keyspace("time index", expires=True, derived=True), b"m": Keyspace("shard membership", expires=True),
    b"k": Keyspace("time index by shard", expires=True, derived=True),
    b"e": Keyspace("evidence", expires=True), b"p": Keyspace("parts of chunked messages", expires=True),
    b"f": Keyspace("findings", expires=True), b"w": Keyspace("waste findings", expires=True),
    b"x": Keyspace("latest metric samples", expires=True), b"y": Keyspace("metric sample history", expires=True),
    b"r": Keyspace("used by (relationships)", expires=True, derived=True),
    b"s": Keyspace("last scan per shard", expires=False), b"c": Keyspace("cursors", expires=False),
    b"j": Keyspace("waste judgement per shard", expires=False),
    b"l": Keyspace("shard layout", expires=False), b"o": Keyspace("last input offset applied", expires=False),
    SEP: Keyspace("store format", expires=False),
}


def keyspace_of(key: bytes) -> Keyspace | None:
    return KEYSPACES.get(key[:1]) if key[1:2] == SEP or key[:1] == SEP else None


DERIVED = frozenset(prefix + SEP for prefix, space in KEYSPACES.items() if space.derived)


def is_derived(key: bytes) -> bool:
    return key[:2] in DERIVED


def _u32(number: int) -> bytes:
    return number.to_bytes(4, "big")


def _u64(number: int) -> bytes:
    return max(number, 0).to_bytes(8, "big")


# Versions, heads, membership, scans, the time index.

def input_offset_key(topic: str, partition: int) -> bytes:
    return b"o" + SEP + topic.encode() + SEP + _u32(partition)


def head_key(uid: str) -> bytes:
    return b"h" + SEP + uid.encode()


def version_key(uid: str, version: int) -> bytes:
    return b"v" + SEP + uid.encode() + SEP + _u32(version)


def versions_prefix(uid: str) -> bytes:
    return b"v" + SEP + uid.encode() + SEP


def member_key(shard: str, uid: str) -> bytes:
    return b"m" + SEP + shard.encode() + SEP + uid.encode()


def scan_key(shard: str) -> bytes:
    return b"s" + SEP + shard.encode()


def time_key(valid_from: int, uid: str, version: int) -> bytes:
    return b"t" + SEP + valid_from.to_bytes(8, "big") + SEP + uid.encode() + SEP + _u32(version)


def time_bound(micros: int) -> bytes:
    """The first time-index key at or after ``micros``."""
    return b"t" + SEP + _u64(micros)


def shard_change_key(shard: str, valid_from: int, uid: str, version: int) -> bytes:
    return b"k" + SEP + shard.encode() + SEP + _u64(valid_from) + SEP + uid.encode() + SEP + _u32(version)


def shard_changes_after(shard: str, micros: int) -> tuple[bytes, bytes]:
    """The range of ``shard``'s time-index entries of versions that began after ``micros``."""
    prefix = b"k" + SEP + shard.encode()
    return prefix + SEP + _u64(micros + 1), prefix + bytes([SEP[0] + 1])


def shard_change_uid(key: bytes) -> str:
    """The uid in a ``k`` key (a shard holds no ``\\x00``: the uid follows its time)."""
    after_shard = key.index(SEP, 2) + 1
    return key[after_shard + 9:-5].decode()


def findings_prefix(uid: str, version: int) -> bytes:
    """Drift and patterns found on one version: ``f\\x00<uid>\\x00<version:4B>\\x00<finding>``."""
    return b"f" + SEP + uid.encode() + SEP + _u32(version) + SEP


def cursor_key(name: str) -> bytes:
    return b"c" + SEP + name.encode()


LAYOUT_KEY = b"l" + SEP + b"shard_buckets"
HEADS_PREFIX, SCANS_PREFIX = b"h" + SEP, b"s" + SEP
MEMBERS_START, MEMBERS_END = b"m" + SEP, b"m" + bytes([SEP[0] + 1])


# Used by: what uses a resource, written in the user's partition (streams/store/relations.py).

def user_key(target: str, source: str) -> bytes:
    return b"r" + SEP + target.encode() + SEP + source.encode()


def users_prefix(target: str) -> bytes:
    return b"r" + SEP + target.encode() + SEP


# Evidence: ordered by resource, then time, so one resource's window is one range read.

EVIDENCE_START, EVIDENCE_END = b"e" + SEP, b"e" + bytes([SEP[0] + 1])


def evidence_key(uid: str, at: int, event_id: str) -> bytes:
    return b"e" + SEP + uid.encode() + SEP + _u64(at) + SEP + event_id.encode()


def evidence_bound(uid: str, at: int) -> bytes:
    """The first evidence key of ``uid`` at or after ``at`` (microseconds)."""
    return b"e" + SEP + uid.encode() + SEP + _u64(at)


def evidence_time(key: bytes) -> int:
    """The call's time (microseconds) in an evidence key."""
    after_uid = key.index(SEP, 2) + 1
    return int.from_bytes(key[after_uid:after_uid + 8], "big")


# Parts of chunked messages, grouped by shard and scan.

PARTS_START, PARTS_END = b"p" + SEP, b"p" + bytes([SEP[0] + 1])


def parts_shard_prefix(shard: str) -> bytes:
    return b"p" + SEP + shard.encode() + SEP


def parts_scan_prefix(shard: str, scan_id: str) -> bytes:
    return parts_shard_prefix(shard) + scan_id.encode() + SEP


def parts_whole_prefix(shard: str, scan_id: str, whole_id: str) -> bytes:
    return parts_scan_prefix(shard, scan_id) + whole_id.encode() + SEP


def part_key(shard: str, scan_id: str, whole_id: str, index: int) -> bytes:
    return parts_whole_prefix(shard, scan_id, whole_id) + _u32(index)


def parts_since_key(scan_prefix: bytes) -> bytes:
    """Where the arrival of a scan's first part is kept (whole ids are never empty)."""
    return scan_prefix + SEP


def parts_scan_prefix_of(key: bytes) -> bytes:
    """``p\\x00<shard>\\x00<scan>\\x00`` of any key in the parts keyspace."""
    end_of_shard = key.index(SEP, 2)
    return key[:key.index(SEP, end_of_shard + 1) + 1]


# The waste analyzer's: findings by resource and rule, metric samples (latest, and by time).

def finding_key(uid: str, pattern: str) -> bytes:
    return b"w" + SEP + uid.encode() + SEP + pattern.encode()


def latest_sample_key(uid: str) -> bytes:
    return b"x" + SEP + uid.encode()


def sample_key(at: int, uid: str) -> bytes:
    return b"y" + SEP + _u64(at) + SEP + uid.encode()


def judgement_key(shard: str) -> bytes:
    return b"j" + SEP + shard.encode()


def changes_complete_key(shard: str) -> bytes:
    """Beside the shard's judgement, so that forgetting judgements (a layout change) forgets it too."""
    return judgement_key(shard) + SEP + b"changes"


JUDGEMENTS_PREFIX = b"j" + SEP
SAMPLE_START, WASTE_SWEEP_START, WASTE_SWEEP_END = b"y" + SEP, b"w" + SEP, b"x" + bytes([SEP[0] + 1])
