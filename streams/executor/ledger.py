"""The executor's ledger: what it has begun and finished, per action id.

An entry is written (and acknowledged by Kafka) *before* the step it describes
touches anything outside the executor, so a crash leaves a trace to reconcile from:

- ``started``   a step (``notify``, ``announce`` or ``execute``) began and may or may not
                have had its effect; on restart it is checked, not blindly repeated;
- ``scheduled`` a destructive action was announced and waits until ``not_before``;
- ``done``      the action is finished; ``result`` is what was published.

The entry carries its request, so scheduled and started actions can be carried on
after a restart without their input message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict

from elava.events import ActionRequest, ActionResult
from elava.exceptions import SchemaError

LedgerState = Literal["started", "scheduled", "done"]
Stage = Literal["notify", "announce", "execute"]


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    action_id: str
    state: LedgerState
    stage: Stage | None = None
    request: ActionRequest
    not_before: datetime | None = None  # destructive actions: when they may run
    # The dry-run setting the announcement went out under: an action announced as a
    # dry run never runs for real, even if the executor is switched to enforce meanwhile.
    announced_dry_run: bool | None = None
    result: ActionResult | None = None
    updated_at: datetime
    signed_by: str | None = None  # the key the request was signed with (checked when it arrived)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, data: bytes) -> LedgerEntry:
        try:
            return cls.model_validate(orjson.loads(data))
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise SchemaError(f"invalid ledger entry: {exc}") from exc


class Ledger:
    """The entries of the action partitions this executor owns, in memory."""

    def __init__(self) -> None:
        self._entries: dict[str, LedgerEntry] = {}
        self._partition: dict[str, int] = {}
        self._open: set[str] = set()  # started or scheduled: the few the timer and a restart look at

    def get(self, action_id: str) -> LedgerEntry | None:
        return self._entries.get(action_id)

    def put(self, entry: LedgerEntry, partition: int) -> None:
        self._entries[entry.action_id] = entry
        self._partition[entry.action_id] = partition
        if entry.state == "done":
            self._open.discard(entry.action_id)
        else:
            self._open.add(entry.action_id)

    def partition_of(self, action_id: str) -> int:
        return self._partition[action_id]

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget what another executor now owns (its scheduled actions are its own)."""
        for action_id in [a for a, p in self._partition.items() if p in partitions]:
            del self._entries[action_id], self._partition[action_id]
            self._open.discard(action_id)

    def in_state(self, state: LedgerState) -> list[LedgerEntry]:
        """Entries that are ``started`` or ``scheduled`` (``done`` ones are many and never looked at)."""
        if state == "done":
            raise ValueError("done entries are only looked up by id")
        return [e for e in map(self._entries.__getitem__, self._open) if e.state == state]

    def due(self, now: datetime) -> list[LedgerEntry]:
        return sorted((e for e in self.in_state("scheduled") if e.not_before and e.not_before <= now),
                      key=lambda e: e.not_before)

    def __len__(self) -> int:
        return len(self._entries)
