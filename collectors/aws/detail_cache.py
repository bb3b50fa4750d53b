"""Details only for what changed: the collector remembers each resource's details.

A steady scan still lists every type (existence, deletions and everything a listing
shows are seen every cycle), but a listed item whose listed view is unchanged since its
details were last asked reuses them instead of calling describe and the detail calls
again. Details are asked again when:

- the listed view changed (its fingerprint: a hash of the listed item);
- a CloudTrail event named the resource after its details were asked (`touch`), so a
  change AWS records is seen on the next scan;
- the details showed a settling state (an EKS cluster CREATING, a table UPDATING): AWS
  finishes the transition without a CloudTrail event, so they are asked until it is over;
- the slower full-refresh tier is due: every resource's details are asked again within
  ``refresh`` of the last time (spread over the second half of it by uid, so the
  refreshes do not all fall on one scan). A change CloudTrail does not record is found
  within ``refresh`` plus one scan interval.

A detail call the catalogue marks ``volatile`` (target health) is never reused: it is asked
every scan, for reused items too (`collectors.aws.complete`).

The cache lives in the collector's memory: its values are AWS's answers before
redaction, which never leave the collector. It only ever supplies details of an item
the listing gave in this scan, so it cannot make a resource exist or vanish; a scan
that failed keeps the entries it had, one that completed forgets what it no longer lists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from elava.events import TrailEvent, utcnow

Clock = Callable[[], datetime]


def fingerprint(listed: dict[str, Any]) -> bytes:
    """A digest of the listed view of an item (key order does not matter)."""
    text = orjson.dumps(listed, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.blake2b(text, digest_size=16).digest()


def _spread(uid: str) -> float:
    """A stable fraction in [0.5, 1) per uid: when in the refresh interval its refresh falls."""
    return 0.5 + int.from_bytes(hashlib.blake2b(uid.encode(), digest_size=4).digest(), "big") / 2**33


@dataclass
class CachedDetails:
    listed: bytes  # the fingerprint of the listed item the details were asked for
    values: dict[str, Any]  # each detail's answer, by its store_as
    region: str  # where the resource lives (a global type's region detail)
    fetched: datetime
    uid: str | None = None  # known once the resource is built
    settling: bool = False  # its state was one AWS leaves on its own, with no CloudTrail event


@dataclass
class ScopeCache:
    """One (account, scope region, type): details by resource id."""

    entries: dict[str, CachedDetails] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def finish(self, complete: bool) -> None:
        """After a scan: a complete one forgets what it did not list; a failed one forgets nothing."""
        if complete:
            self.entries = {rid: cached for rid, cached in self.entries.items() if rid in self.seen}
        self.seen = set()


class DetailCache:
    """Every scope's details, the CloudTrail touches and the refresh tier of one collector process."""

    def __init__(self, refresh: timedelta, clock: Clock = utcnow) -> None:
        self.refresh = refresh
        self._clock = clock
        self._scopes: dict[tuple[str, str, str], ScopeCache] = {}
        self._touched: dict[str, datetime] = {}

    def now(self) -> datetime:
        return self._clock()

    def scope(self, account: str, region: str, type_name: str) -> ScopeCache:
        return self._scopes.setdefault((account, region, type_name), ScopeCache())

    def touch(self, uids: Iterable[str]) -> None:
        """CloudTrail named these resources: their details are asked again on the next scan."""
        moment = self._clock()
        for uid in uids:
            self._touched[uid] = moment
        self._forget_old_touches(moment)

    def note_trail(self, events: Iterable[TrailEvent]) -> None:
        """Touch what the calls that may have changed something named (reads and refused calls cannot)."""
        self.touch(event.resource.uid for event in events if not event.read_only and not event.error_code)

    def reusable(self, cached: CachedDetails | None, listed: bytes) -> bool:
        """True when ``cached`` may stand for the details of an item listed as ``listed``."""
        if cached is None or cached.listed != listed or self.refresh <= timedelta(0):
            return False
        if cached.uid is None or cached.settling:
            return False
        touched = self._touched.get(cached.uid)
        if touched is not None and touched >= cached.fetched:
            return False
        return self._clock() < cached.fetched + self.refresh * _spread(cached.uid)

    def _forget_old_touches(self, now: datetime) -> None:
        # Details asked before now - refresh are due anyway: older touches decide nothing.
        if len(self._touched) > 10_000:
            self._touched = {uid: when for uid, when in self._touched.items() if now - when <= self.refresh}
