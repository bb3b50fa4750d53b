"""What a waste rule sees of one resource, and what it may answer.

A rule gets a `Subject` (the resource's head, its stored versions on demand, its
latest metric sample, the settings, the evaluation time) and answers `Waste`,
`Unknown` (it cannot tell: whatever was said before stands) or None (not waste).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from elava.catalogue.expressions import extract
from elava.catalogue.usage import Usage
from elava.settings import WasteSettings
from streams.store.records import Version
from streams.store.versioned import from_micros
from streams.store.waste import StoredSample


@dataclass(frozen=True)
class Waste:
    """The resource is waste: why, what the rule saw, since when; ``units`` adds to the type's."""

    reason: str
    evidence: dict[str, Any]
    since: datetime | None = None
    units: dict[str, Any] = field(default_factory=dict)
    lacking: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unknown:
    """The rule cannot tell (metrics missing or throttled, too young for a full window)."""

    lacking: tuple[str, ...]


Verdict = Waste | Unknown | None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class Subject:
    head: Version
    now: datetime
    waste: WasteSettings
    usage: Usage | None
    sample: StoredSample | None
    versions: Callable[[], list[Version]]

    @property
    def resource(self) -> dict[str, Any]:
        return self.head.resource or {}

    @property
    def type(self) -> str:
        return self.resource.get("type", "")

    @property
    def attributes(self) -> dict[str, Any]:
        return self.resource.get("attributes") or {}

    @property
    def tags(self) -> dict[str, str]:
        return self.resource.get("tags") or {}

    def path(self, expression: str) -> Any:
        return extract(self.resource, expression)

    @cached_property
    def history(self) -> list[Version]:
        """Stored versions, oldest first (read once, and only by the rules that need them)."""
        return self.versions()

    @property
    def created_at(self) -> datetime | None:
        """When AWS says it was created; else when Elava first saw it created."""
        if self.usage is not None and self.usage.created:
            stated = parse_time(self.path(self.usage.created))
            if stated is not None:
                return stated
        first = self.history[0] if self.history else None
        return from_micros(first.valid_from) if first is not None and first.kind == "created" else None

    def held_since(self, holds: Callable[[dict[str, Any]], bool]) -> datetime | None:
        """Since when ``holds`` (of a stored resource) has been true, through every version since.

        When it held since the first version Elava saw being created, the creation time
        AWS states is earlier still; once retention dropped older versions, the answer is
        a lower bound.
        """
        if not holds(self.resource):
            return None
        since = None
        for version in reversed(self.history):
            if version.resource is None or not holds(version.resource):
                break
            since = version
        if since is None:
            return from_micros(self.head.valid_from)
        if since.version == 1 and since.kind == "created" and self.created_at is not None:
            return min(self.created_at, from_micros(since.valid_from))
        return from_micros(since.valid_from)

    def creation(self) -> Version | None:
        """The version that recorded its creation, if retention kept it."""
        first = self.history[0] if self.history else None
        return first if first is not None and first.kind == "created" else None

    def metric(self, name: str) -> float | Unknown:
        """A metric value over the window, or what is lacking (never a guess)."""
        if self.sample is None:
            return Unknown((f"{name}: no metrics collected yet",))
        if name in self.sample.missing:
            return Unknown((f"{name}: {self.sample.missing[name]}",))
        if name not in self.sample.values:
            return Unknown((f"{name}: not measured",))
        return self.sample.values[name]

    def full_window(self) -> Unknown | None:
        """Unknown unless the resource existed through the whole metrics window."""
        created, sample = self.created_at, self.sample
        if sample is None:
            return Unknown(("metrics: none collected yet",))
        if created is None:
            return Unknown(("creation time: unknown, so a full metrics window cannot be told",))
        if created > sample.window_start:
            return Unknown((f"a full metrics window: created {created.isoformat()}, "
                            f"after the window's start {sample.window_start.isoformat()}",))
        return None

    def hours_since(self, since: datetime | None) -> int | None:
        return int((self.now - since).total_seconds() // 3600) if since is not None else None
