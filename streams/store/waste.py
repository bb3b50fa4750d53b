"""What the waste analyzer keeps beside the versions, in the same partition store.

- ``x\\x00<uid>``                          the resource's latest metric sample
- ``y\\x00<observed_at:8B>\\x00<uid>``      every metric sample, by time (history; retention cuts a prefix)
- ``w\\x00<uid>\\x00<pattern>``             the finding of one rule on one resource: its state and last event

Metric samples are kept here, never in a version: a value that moves every interval
must not make a new version (nor a "modified" change) of an unchanged resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from elava.events import MetricSample, WasteFinding
from streams.store.kv import KV
from streams.store.versioned import SEP, from_micros, to_micros

LATEST, HISTORY, FINDING = b"x", b"y", b"w"


def latest_key(uid: str) -> bytes:
    return LATEST + SEP + uid.encode()


def history_key(at: int, uid: str) -> bytes:
    return HISTORY + SEP + max(at, 0).to_bytes(8, "big") + SEP + uid.encode()


def finding_key(uid: str, pattern: str) -> bytes:
    return FINDING + SEP + uid.encode() + SEP + pattern.encode()


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


class WasteStore:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def put_sample(self, uid: str, sample: StoredSample) -> None:
        """The newest sample becomes the latest; an older one (a replay) only joins the history."""
        data = sample.to_bytes()
        writes = [(history_key(to_micros(sample.observed_at), uid), data)]
        latest = self.latest_sample(uid)
        if latest is None or latest.observed_at <= sample.observed_at:
            writes.append((latest_key(uid), data))
        self.kv.put_many(writes)

    def latest_sample(self, uid: str) -> StoredSample | None:
        data = self.kv.get(latest_key(uid))
        return StoredSample.from_bytes(data) if data is not None else None

    def samples_between(self, start: datetime, end: datetime, uid: str | None = None) -> Iterator[tuple[str, StoredSample]]:
        """Stored samples observed in ``[start, end)``, oldest first (of one resource, or all)."""
        for key, data in self.kv.scan_range(history_key(to_micros(start), ""), history_key(to_micros(end), "")):
            owner = key[11:].decode()
            if uid is None or owner == uid:
                yield owner, StoredSample.from_bytes(data)

    def findings_of(self, uid: str) -> dict[str, FindingRecord]:
        prefix = FINDING + SEP + uid.encode() + SEP
        return {key[len(prefix):].decode(): FindingRecord.from_bytes(data) for key, data in self.kv.scan(prefix)}

    def put_finding(self, uid: str, pattern: str, record: FindingRecord) -> None:
        self.kv.put(finding_key(uid, pattern), record.to_bytes())

    def findings(self) -> Iterator[FindingRecord]:
        for _, data in self.kv.scan(FINDING + SEP):
            yield FindingRecord.from_bytes(data)

    def drop_before(self, cutoff: datetime, budget: int | None = None) -> int:
        """Forget samples observed before ``cutoff`` and findings resolved before it; how many."""
        dropped = 0
        for key, _ in list(self.kv.scan_range(HISTORY + SEP, history_key(to_micros(cutoff), ""))):
            if budget is not None and dropped >= budget:
                return dropped
            self.kv.delete(key)
            dropped += 1
        stale = [key for key, data in self.kv.scan(FINDING + SEP)
                 if (record := FindingRecord.from_bytes(data)).status == "resolved" and record.at < to_micros(cutoff)]
        # A latest sample that old belongs to a resource no longer measured (gone, or no longer running).
        stale += [key for key, data in self.kv.scan(LATEST + SEP) if StoredSample.from_bytes(data).observed_at < cutoff]
        for key in stale:
            self.kv.delete(key)
        return dropped + len(stale)


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
