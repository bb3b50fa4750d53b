"""Event contracts of the analyzers' findings: drift (``elava.drift``), lifecycle patterns
(``elava.patterns``) and waste (``elava.waste``); docs/analyzers.md says how each is found.

The base and the shared parts (``Event``, ``Actor``, ``FieldChange``) are in elava/events.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from elava.events import Actor, Event, FieldChange


class IgnoredChange(BaseModel):
    """A field change drift left out, and the rule that left it out (docs/analyzers.md)."""

    model_config = ConfigDict(frozen=True)
    path: str
    rule: str


class DriftEvent(Event):
    ce_type: ClassVar[str] = "elava.drift"
    change_id: str
    uid: str
    type: str
    account: str
    region: str
    severity: Literal["info", "low", "medium", "high", "critical"]
    summary: str
    diff: list[FieldChange]
    detected_at: datetime
    actor: Actor | None = None
    confidence: float | None = None
    # Added in place (optional, additive): the version drifted to, the severity rules that
    # fired, and the out-of-band verdict — an IaC tool owns it (``owner``, from its tags)
    # and the change was not shown to be that tool's. ``ignored``: what drift left out.
    version: int | None = None
    rules: list[str] = Field(default_factory=list)
    out_of_band: bool = False
    owner: str | None = None
    ignored: list[IgnoredChange] = Field(default_factory=list)

    def id_material(self) -> Any:
        # An attribution arriving later re-reports the drift: a new id, the same change_id.
        who = (self.actor.arn or self.actor.name) if self.actor else None
        return [self.change_id, self.severity, who, self.confidence]


class PatternEvidence(BaseModel):
    """One stored version behind a pattern: which, when, what and who (as attribution said)."""

    model_config = ConfigDict(frozen=True)
    uid: str
    version: int
    kind: str
    at: datetime
    actor: str | None = None
    detail: str | None = None


PatternName = Literal["recreated", "short-lived", "flapping", "schedule", "burst"]


class PatternEvent(Event):
    """A lifecycle pattern of one resource (or one actor), raised once, with its evidence."""

    ce_type: ClassVar[str] = "elava.pattern"
    pattern: PatternName
    uid: str
    type: str
    account: str
    region: str
    name: str | None = None
    subject: str | None = None  # what the pattern is about: the field that flaps, "start 08h" of a schedule, the actor
    summary: str
    evidence: list[PatternEvidence]
    detected_at: datetime

    def id_material(self) -> Any:
        # The versions behind it make it what it is: a replay finds the same ones.
        return [self.pattern, self.uid, self.subject, [(e.uid, e.version) for e in self.evidence]]


WasteStatus = Literal["open", "updated", "resolved"]


class WasteFinding(Event):
    """One resource wasted for one reason (``pattern``: the rule, elava/waste_rules.py).

    Raised once (``open``), ``updated`` when its evidence changes, ``resolved`` once when the
    reason goes: the latest event per (uid, pattern) is the current list. ``evidence`` is
    what the rule saw, ``units`` what a FinOps tool prices it by (no prices), ``lacking``
    what the rule could not see (it decided without it).
    """

    ce_type: ClassVar[str] = "elava.waste"
    uid: str
    type: str
    account: str
    region: str
    pattern: str
    reason: str
    since: datetime | None = None
    detected_at: datetime
    status: WasteStatus = "open"
    evidence: dict[str, Any] = Field(default_factory=dict)
    units: dict[str, Any] = Field(default_factory=dict)
    lacking: list[str] = Field(default_factory=list)

    def id_material(self) -> Any:
        # One id per state of the finding: re-derived after a replay, the same id.
        return [self.uid, self.pattern, self.since, self.status, self.evidence]
