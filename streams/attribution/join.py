"""The join: changes meet the CloudTrail events of the same resource, in one partition.

Trail events are kept in the store as evidence (``e\\x00<uid>\\x00<time>\\x00<id>``)
because CloudTrail delivers minutes, sometimes much longer, after the call. A new
version is attributed before it is stored, with whatever evidence is there (or a
tag heuristic, marked provisional). When a trail event arrives later that explains
a stored version better, that version is attributed again and published again
under the same change id with the higher confidence.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from elava.events import Actor, AttributedChange, ChangeEvent, Resource, TrailEvent
from streams.attribution.scoring import Attribution, Window, attribute, score
from streams.observe import change_from_version
from streams.store.versioned import SEP, Version, VersionStore, from_micros, to_micros

LOOKBACK = timedelta(hours=24)
SLACK = timedelta(minutes=15)


def evidence_key(uid: str, at: int, event_id: str) -> bytes:
    return b"e" + SEP + uid.encode() + SEP + at.to_bytes(8, "big") + SEP + event_id.encode()


def evidence_bound(uid: str, at: int) -> bytes:
    return b"e" + SEP + uid.encode() + SEP + max(at, 0).to_bytes(8, "big")


class Attributor:
    def __init__(self, store: VersionStore, lookback: timedelta = LOOKBACK, slack: timedelta = SLACK) -> None:
        self.store, self.lookback, self.slack = store, lookback, slack

    def evidence(self, uid: str, start: datetime, end: datetime) -> list[TrailEvent]:
        low, high = evidence_bound(uid, to_micros(start)), evidence_bound(uid, to_micros(end) + 1)
        return [TrailEvent.from_bytes(data) for _, data in self.store.kv.scan_range(low, high)]

    def _attribute(self, change: ChangeEvent, window_start: datetime | None) -> tuple[Attribution, dict]:
        window = Window(start=window_start, end=change.observed_at, slack=self.slack)
        earliest = (window.start or window.end - self.lookback) - self.slack
        result = attribute(change, self.evidence(change.uid, earliest, window.end + self.slack), window)
        record = {**result.as_record(), "window_start": window_start.isoformat() if window_start else None}
        return result, record

    def annotate(self, version: Version) -> Version:
        """Observer hook: attribute a new version before it is stored (one write, not two)."""
        head = self.store.head(version.uid)
        last_alive = Resource.model_validate(head.resource) if version.deleted and head and head.resource else None
        change = change_from_version(version, last_alive)
        # The change happened after the version it replaces began. Taken from the version
        # chain alone (not from the shard's last scan, which moves with the input), so a
        # replay after a crash attributes a version exactly as the first pass did.
        window_start = from_micros(head.valid_from) if head is not None else None
        _, record = self._attribute(change, window_start)
        return replace(version, attribution=record)

    def attributed(self, change: ChangeEvent) -> AttributedChange | None:
        """The attribution stored with a change's version, as an event."""
        version = self.store.get_version(change.uid, change.new_version)
        return from_record(change, version.attribution) if version and version.attribution else None

    def on_trail(self, event: TrailEvent) -> list[AttributedChange]:
        """Keep the event; re-attribute the stored version it may explain better."""
        at = to_micros(event.event_time)
        self.store.kv.put(evidence_key(event.resource.uid, at, event.trail_event_id), event.to_bytes())
        if event.read_only or event.error_code:
            return []
        low, high = to_micros(event.event_time - self.slack), to_micros(event.event_time + self.lookback)
        nearby = [v for v in self.store.versions(event.resource.uid) if low <= v.valid_from <= high]
        best = max(nearby, key=lambda v: self._fit(v, event), default=None)
        if best is None or self._fit(best, event) <= 0:
            return []
        update = self._reattribute(best)
        return [update] if update is not None else []

    def _change_of(self, version: Version) -> ChangeEvent:
        previous = self.store.get_version(version.uid, version.version - 1)
        last_alive = previous.resource if version.deleted and previous is not None else None
        return change_from_version(version, Resource.model_validate(last_alive) if last_alive else None)

    def _window_of(self, version: Version, change: ChangeEvent) -> Window:
        start = (version.attribution or {}).get("window_start")
        return Window(start=datetime.fromisoformat(start) if start else None, end=change.observed_at,
                      slack=self.slack)

    def _fit(self, version: Version, event: TrailEvent) -> float:
        """How well ``event`` explains ``version`` (the version it explains best gets it)."""
        change = self._change_of(version)
        return score(change, event, self._window_of(version, change))

    def _reattribute(self, version: Version) -> AttributedChange | None:
        change = self._change_of(version)
        old = version.attribution or {}
        start = old.get("window_start")
        result, record = self._attribute(change, datetime.fromisoformat(start) if start else None)
        same = result.evidence == old.get("evidence") and result.confidence <= (old.get("confidence") or 0.0)
        if result.method != "cloudtrail" or same:
            return None
        head = self.store.head(version.uid)
        self.store.rewrite(replace(version, attribution=record, valid_to=None),
                           is_head=head is not None and head.version == version.version)
        return from_record(change, record)


def from_record(change: ChangeEvent, record: dict) -> AttributedChange:
    return AttributedChange(change=change, actor=Actor.model_validate(record.get("actor") or {}),
                            confidence=record.get("confidence") or 0.0, evidence=record.get("evidence") or [],
                            provisional=record.get("method") != "cloudtrail", actors=record.get("actors") or [])

