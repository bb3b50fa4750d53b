"""What the waste analyzer keeps beside the versions, in the same partition store.

- ``x``: the resource's latest metric sample; ``y``: every metric sample, by time (history);
- ``w``: the finding of one rule on one resource, its state and last event;
- ``j``: a shard's last judgement by a scan marker (one small key per shard)
(keys in streams/store/keyspaces.py).

Metric samples are kept here, never in a version: a value that moves every interval
must not make a new version (nor a "modified" change) of an unchanged resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from elava.analyzer_events import WasteFinding
from elava.events import MetricSample
from streams.store.evidence import Sweep
from streams.store.keyspaces import (
    JUDGEMENTS_PREFIX,
    SAMPLE_START,
    SEP,
    WASTE_SWEEP_END,
    WASTE_SWEEP_START,
    changes_complete_key,
    finding_key,
    judgement_key,
    latest_sample_key,
    sample_key,
)
from streams.store.kv import KV, drop_prefix
from streams.store.versioned import from_micros, to_micros

CURSOR = "waste"


@dataclass(frozen=True)
class StoredSample:
    """A resource's metric sample over ``[window_start, observed_at)``."""

    values: dict[str, float]
    missing: dict[str, str]
    window_start: datetime
    observed_at: datetime

    def to_bytes(self) -> bytes:
        return orjson.dumps({"values": self.values, "missing": self.missing,
                             "window_start": to_micros(self.window_start), "observed_at": to_micros(self.observed_at)})

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredSample:
        raw = orjson.loads(data)
        return cls(raw["values"], raw["missing"], from_micros(raw["window_start"]), from_micros(raw["observed_at"]))

    @classmethod
    def of(cls, sample: MetricSample, window_start: datetime, observed_at: datetime) -> StoredSample:
        return cls(dict(sample.values), dict(sample.missing), window_start, observed_at)


@dataclass(frozen=True)
class FindingRecord:
    """Where one rule stands on one resource: the state its last event told, and what caused it."""

    status: str
    since: str | None
    evidence: dict[str, Any]
    at: int  # micros: the time of the input that made this state
    cause: str  # event id of that input: the same input again re-emits ``event`` (a replay)
    event: dict[str, Any]

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    def finding(self) -> WasteFinding:
        return WasteFinding.model_validate(self.event)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_bytes(cls, data: bytes) -> FindingRecord:
        return cls(**orjson.loads(data))

    @classmethod
    def of(cls, event: WasteFinding, at: int, cause: str) -> FindingRecord:
        return cls(event.status, event.since.isoformat() if event.since else None, event.evidence, at, cause,
                   event.model_dump(mode="json"))


@dataclass(frozen=True)
class Judgement:
    """Which members of a shard one scan marker judged: every one (``full``), or those whose
    head began after ``changed_after``. Recorded before the findings it makes, so the same
    marker again (redelivered after a crash) selects the same members and re-emits them."""

    cause: str  # the marker's event id
    at: int  # micros: the marker's finished_at, the time it judged at
    started: int  # micros: the marker's started_at, where the next judgement's changes begin
    changed_after: int | None  # micros; None: every member (a full judgement)
    full_at: int  # micros: the shard's last full judgement (this one's ``at`` when full)

    @property
    def full(self) -> bool:
        return self.changed_after is None

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_bytes(cls, data: bytes) -> Judgement:
        return cls(**orjson.loads(data))


class WasteStore:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def put_sample(self, uid: str, sample: StoredSample) -> None:
        """The newest sample becomes the latest; an older one (a replay) only joins the history."""
        data = sample.to_bytes()
        writes = [(sample_key(to_micros(sample.observed_at), uid), data)]
        latest = self.latest_sample(uid)
        if latest is None or latest.observed_at <= sample.observed_at:
            writes.append((latest_sample_key(uid), data))
        self.kv.put_many(writes)

    def latest_sample(self, uid: str) -> StoredSample | None:
        data = self.kv.get(latest_sample_key(uid))
        return StoredSample.from_bytes(data) if data is not None else None

    def samples_between(self, start: datetime, end: datetime, uid: str | None = None) -> Iterator[tuple[str, StoredSample]]:
        """Stored samples observed in ``[start, end)``, oldest first (of one resource, or all)."""
        for key, data in self.kv.scan_range(sample_key(to_micros(start), ""), sample_key(to_micros(end), "")):
            owner = key[11:].decode()
            if uid is None or owner == uid:
                yield owner, StoredSample.from_bytes(data)

    def findings_of(self, uid: str) -> dict[str, FindingRecord]:
        prefix = finding_key(uid, "")
        return {key[len(prefix):].decode(): FindingRecord.from_bytes(data) for key, data in self.kv.scan(prefix)}

    def put_finding(self, uid: str, pattern: str, record: FindingRecord) -> None:
        self.kv.put(finding_key(uid, pattern), record.to_bytes())

    def judgement(self, shard: str) -> Judgement | None:
        data = self.kv.get(judgement_key(shard))
        return Judgement.from_bytes(data) if data is not None else None

    def record_judgement(self, shard: str, judgement: Judgement) -> None:
        self.kv.put(judgement_key(shard), judgement.to_bytes())

    def changes_complete_after(self, shard: str) -> int | None:
        """From when (micros, exclusive) the shard's time index lists every version written for it;
        None until the waste analyzer has read every member's head once to say."""
        data = self.kv.get(changes_complete_key(shard))
        return int.from_bytes(data, "big") if data is not None else None

    def record_changes_complete(self, shard: str, after: int) -> None:
        self.kv.put(changes_complete_key(shard), max(after, 0).to_bytes(8, "big"))

    def drop_judgements(self) -> int:
        """Forget every shard's judgement, and from when its time index is complete (after a layout
        change a shard holds other members)."""
        return drop_prefix(self.kv, JUDGEMENTS_PREFIX)

    def findings(self) -> Iterator[FindingRecord]:
        for _, data in self.kv.scan(finding_key("", "")[:2]):
            yield FindingRecord.from_bytes(data)

    def sweep(self, cutoff: int, budget: int, cursor: bytes | None) -> tuple[Sweep, bytes | None]:
        """One bounded step of retention: samples observed before ``cutoff`` (by time, no cursor
        needed), then up to ``budget`` findings and latest samples after ``cursor`` — a finding
        resolved, or a latest sample observed, before ``cutoff`` goes."""
        report, last, expired = Sweep(), None, []
        for key, _ in self.kv.scan_range(SAMPLE_START, sample_key(cutoff, "")):
            if len(expired) == budget:
                break
            expired.append(key)
        start = cursor + SEP if cursor else WASTE_SWEEP_START
        for key, data in self.kv.scan_range(start, WASTE_SWEEP_END):
            if report.scanned == budget:
                break
            report.scanned, last = report.scanned + 1, key
            if _expired(key, data, cutoff):
                expired.append(key)
        else:
            report.wrapped, last = True, None
        for key in expired:
            self.kv.delete(key)
        report.dropped = len(expired)
        return report, last


def _expired(key: bytes, data: bytes, cutoff: int) -> bool:
    if key[:1] == b"w":
        record = FindingRecord.from_bytes(data)
        return record.status == "resolved" and record.at < cutoff
    return to_micros(StoredSample.from_bytes(data).observed_at) < cutoff


@dataclass(frozen=True)
class WasteFilter:
    """Which current findings to list: of a type, a rule (``pattern``), an account, a region."""

    type: str | None = None
    pattern: str | None = None
    account: str | None = None
    region: str | None = None

    def keeps(self, finding: WasteFinding) -> bool:
        wanted = {"type": self.type, "pattern": self.pattern, "account": self.account, "region": self.region}
        return all(value is None or getattr(finding, name) == value for name, value in wanted.items())


def current_findings(kv: KV, where: WasteFilter | None = None) -> list[WasteFinding]:
    """The findings still open (opened or updated, not resolved), by type, rule and uid."""
    where = where or WasteFilter()
    found = [record.finding() for record in WasteStore(kv).findings() if record.is_open]
    return sorted((f for f in found if where.keeps(f)), key=lambda f: (f.type, f.pattern, f.uid))
