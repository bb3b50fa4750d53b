"""The join: changes meet the CloudTrail events of the same resource, in one partition.

Trail events are kept in the store as evidence (streams/store/evidence.py) because
CloudTrail delivers minutes, sometimes much longer, after the call; they are kept
``EVIDENCE_KEPT`` (the lookback, 24 h, and 15 min of slack). A new version is
attributed before it is stored, from what observe decided in memory and whatever
evidence is there (or a tag heuristic, marked provisional). When a trail event arrives
later that explains a stored version better, that version is attributed again and
published again under the same change id with the higher confidence.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from elava.events import Actor, AttributedChange, ChangeEvent, Resource, TrailEvent
from streams.attribution.scoring import Attribution, Credit, Window, attribute, score
from streams.observe import Observed, change_from_version
from streams.store.evidence import EvidenceLog
from streams.store.keyspaces import EVIDENCE_LOOKBACK, EVIDENCE_SLACK
from streams.store.records import StoredRecord, Version
from streams.store.versioned import VersionStore, from_micros, to_micros

LOOKBACK, SLACK = EVIDENCE_LOOKBACK, EVIDENCE_SLACK


@dataclass(frozen=True)
class VersionAttribution:
    """Who made a version, as stored with it: the result and the window it was judged in."""

    result: Attribution
    window_start: datetime | None

    def record(self) -> dict[str, Any]:
        return {**self.result.as_record(), "window_start": self.window_start.isoformat() if self.window_start else None}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> VersionAttribution:
        result = Attribution(actor=Actor.model_validate(record.get("actor") or {}),
                             confidence=record.get("confidence") or 0.0, evidence=record.get("evidence") or [],
                             method=record.get("method") or "none",
                             credits=[_credit(item) for item in record.get("actors") or []], rule=record.get("rule"))
        start = record.get("window_start")
        return cls(result, datetime.fromisoformat(start) if start else None)

    def event(self, change: ChangeEvent) -> AttributedChange:
        return AttributedChange(change=change, actor=self.result.actor, confidence=self.result.confidence,
                                evidence=self.result.evidence, provisional=self.result.method != "cloudtrail",
                                actors=[credit.contributor() for credit in self.result.credits])


def attributed_from_record(record: StoredRecord) -> AttributedChange | None:
    """The attributed change a new version was published as, from its record alone: its change
    (``change_from_version``) with the attribution stored beside it; None without one. Not for a
    deletion, whose change carries the version before it."""
    version = Version.from_bytes(record.uid, record.data)
    if version.attribution is None:
        return None
    return VersionAttribution.from_record(version.attribution).event(change_from_version(version, None))


def _credit(item: dict[str, Any]) -> Credit:
    """A co-author as stored with the version (``Credit.as_record``)."""
    return Credit(actor=Actor.model_validate(item.get("actor") or {}), share=item.get("share") or 0.0,
                  score=item.get("score") or 0.0, confidence=item.get("confidence") or 0.0,
                  evidence=item.get("evidence") or [])


class Attributor:
    def __init__(self, store: VersionStore, lookback: timedelta = LOOKBACK, slack: timedelta = SLACK) -> None:
        self.store, self.lookback, self.slack = store, lookback, slack
        self.evidence_log = EvidenceLog(store.kv)

    def reading(self) -> AbstractContextManager[None]:
        """Around one input: its evidence reads share one reader of the store (EvidenceLog.read_together)."""
        return self.evidence_log.read_together()

    def evidence(self, uid: str, start: datetime, end: datetime) -> list[TrailEvent]:
        return [TrailEvent.from_bytes(data) for data in self.evidence_log.between(uid, to_micros(start), to_micros(end))]

    def attribute(self, observed: Observed) -> VersionAttribution | None:
        """Who made what observe decided: judged now for a new version, as stored for a replay."""
        if observed.replay:
            record = observed.version.attribution
            return VersionAttribution.from_record(record) if record else None
        # The change happened after the version it replaces began. Taken from the version
        # chain alone (not from the shard's last scan, which moves with the input), so a
        # replay after a crash attributes a version exactly as the first pass did.
        window_start = from_micros(observed.previous.valid_from) if observed.previous is not None else None
        return self._judge(observed.change, window_start)

    def _judge(self, change: ChangeEvent, window_start: datetime | None) -> VersionAttribution:
        window = Window(start=window_start, end=change.observed_at, slack=self.slack)
        earliest = (window.start or window.end - self.lookback) - self.slack
        result = attribute(change, self.evidence(change.uid, earliest, window.end + self.slack), window)
        return VersionAttribution(result, window_start)

    def on_trail(self, event: TrailEvent) -> list[AttributedChange]:
        """Keep the event; re-attribute the stored version it may explain better."""
        self.evidence_log.keep(event.resource.uid, to_micros(event.event_time), event.trail_event_id,
                               event.to_bytes())
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
        """A stored version's change event, as observe published it (a late event has only the store)."""
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
        judged = self._judge(change, datetime.fromisoformat(start) if start else None)
        result = judged.result
        same = result.evidence == old.get("evidence") and result.confidence <= (old.get("confidence") or 0.0)
        if result.method != "cloudtrail" or same:
            return None
        head = self.store.head_lead(version.uid)
        self.store.rewrite(replace(version, attribution=judged.record(), valid_to=None),
                           is_head=head is not None and head.version == version.version)
        return judged.event(change)
