"""The waste analyzer of one partition: rules evaluated where the resources are.

Evaluated when a shard's scan closes (a successful marker, at the marker's time) and
when metric samples of the shard arrive (their resources, at the samples' time). A
marker judges every member of its shard once ``sweep_interval`` has passed since the
shard's last full judgement; in between, only the members whose head began after the
last judgement's scan started (changed, created or deleted since), found in the shard's
time index rather than by reading every member's head. Most members are
unchanged, and what the rest of their verdict reads moves with time (thresholds, at the
sweep's pace), with metric samples (judged when they arrive) or with settings. Everything a rule reads is in the partition: the resource's
versions, its attribution, its metric samples — and, for the rules about what other
resources use (snapshots, images), the counts the metrics collector made from the
complete scan of their account/region (docs/analyzers.md, "Across resources").

A finding is raised once (``open``), ``updated`` when its evidence changes,
``resolved`` once when its reason goes or the resource is deleted. Each state is
recorded with the input that caused it: the same input again (a replay after a
crash) re-emits the same event, with the same id, and changes nothing; an input older
than the recorded state changes nothing either. Pure core: no Kafka, no AWS.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from elava.analyzer_events import WasteFinding
from elava.catalogue import registry
from elava.catalogue.exceptions import UnknownResourceType
from elava.catalogue.expressions import extract
from elava.catalogue.usage import Usage
from elava.events import MetricsObservation, ScanMarker
from elava.settings import WasteSettings
from streams.analyzers.waste.rules import RULES, Rule
from streams.analyzers.waste.subject import Subject, Unknown, Waste
from streams.store.records import RecordLead
from streams.store.versioned import HEADS_READ_TOGETHER, VersionStore, to_micros
from streams.store.waste import FindingRecord, Judgement, StoredSample, WasteStore

MICROSECOND = timedelta(microseconds=1)


def usage_of(type_name: str) -> Usage | None:
    try:
        return registry.get(type_name).usage
    except UnknownResourceType:
        return None


class WasteAnalyzer:
    def __init__(self, store: VersionStore, settings: WasteSettings | None = None) -> None:
        self.store, self.kept = store, WasteStore(store.kv)
        self.waste = settings or WasteSettings()
        self.rules = [rule for name, rule in RULES.items() if name not in self.waste.disabled]
        self._enabled = frozenset(rule.name for rule in self.rules)
        self._by_type: dict[str, list[Rule]] = {}  # a marker's members share one type: filtered once

    def on_marker(self, marker: ScanMarker) -> list[WasteFinding]:
        """A shard's scan closed: its members (every one, or the changed ones), at the marker's time."""
        if not self.waste.enabled or marker.status != "ok" or usage_of(marker.type) is None:
            return []
        judgement = self._judgement(marker)
        found: list[WasteFinding] = []
        for uid, lead in self._selected(marker.shard, judgement):
            found.extend(self.evaluate(uid, marker.finished_at, marker.event_id, lead))
        return found

    def _selected(self, shard: str, judgement: Judgement) -> list[tuple[str, RecordLead]]:
        """The members ``judgement`` judges, with their heads, in uid order.

        Between full sweeps, the few that changed come from the shard's time index (``k``),
        once it is known to list every version since ``changed_after``; until then every
        member's head is read, and the latest start among them says from when it does (any
        later version is written with its entry).
        """
        complete_after = self.kept.changes_complete_after(shard)
        if not judgement.full and complete_after is not None and judgement.changed_after >= complete_after:
            candidates = self.store.members_among(shard, self.store.changed_in_shard(shard, judgement.changed_after))
        else:
            candidates = list(self.store.shard_members(shard))
        selected: list[tuple[str, RecordLead]] = []
        latest = 0
        for start in range(0, len(candidates), HEADS_READ_TOGETHER):
            chunk = candidates[start:start + HEADS_READ_TOGETHER]
            judged = []
            for lead in self.store.head_leads_of(chunk):
                if lead is None:
                    continue
                latest = max(latest, lead.valid_from)
                if judgement.full or lead.valid_from > judgement.changed_after:
                    judged.append(lead)
            # Each is judged on its whole head: their versions in one read, as their heads were.
            selected.extend((lead.uid, lead) for lead in self.store.whole_leads(judged))
        if complete_after is None:  # every member's head was read
            self.kept.record_changes_complete(shard, latest)
        return selected

    def _judgement(self, marker: ScanMarker) -> Judgement:
        """Which members ``marker`` judges; recorded before any finding it makes, so that the same
        marker again (redelivered after a crash) selects the same members."""
        at, started = to_micros(marker.finished_at), to_micros(marker.started_at)
        last = self.kept.judgement(marker.shard)
        if last is not None and last.cause == marker.event_id:
            return last  # a redelivery: the same selection, nothing written
        if last is not None and at <= last.at:
            # Older than the shard's last judgement (redelivered after a crash, replayed from the
            # DLQ): every member, as before; each finding it caused is said again, nothing newer moves.
            return Judgement(marker.event_id, at, started, None, last.full_at)
        due = last is None or at - last.full_at >= self.waste.sweep_interval // MICROSECOND
        judgement = Judgement(marker.event_id, at, started, None if due else last.started,
                              at if due else last.full_at)
        self.kept.record_judgement(marker.shard, judgement)
        return judgement

    def on_metrics(self, metrics: MetricsObservation) -> list[WasteFinding]:
        """Samples kept (history too), then their resources evaluated at the samples' time."""
        found: list[WasteFinding] = []
        for sample in metrics.samples:
            self.kept.put_sample(sample.uid, StoredSample.of(sample, metrics.window_start, metrics.observed_at))
            if self.waste.enabled:
                found.extend(self.evaluate(sample.uid, metrics.observed_at, metrics.event_id))
        return found

    def evaluate(self, uid: str, now: datetime, cause: str, lead: RecordLead | None = None) -> list[WasteFinding]:
        records = self.kept.findings_of(uid)
        # Open findings may change; one this input caused is said again (a replay, even resolved).
        live = {name: record for name, record in records.items() if record.is_open or record.cause == cause}
        lead = lead or self.store.head_lead(uid)
        if lead is None or (lead.deleted and not live):
            return []  # unknown here, or gone with nothing open: nothing to read
        head = lead.full()
        usage = None if head.deleted else usage_of((head.resource or {}).get("type", ""))
        if usage is None and not live:
            return []
        subject = Subject(head, now, self.waste, usage, self.kept.latest_sample(uid),
                          lambda: self.store.versions(uid))
        found = []
        for rule in self._rules_for(subject, live):
            event = self._step(subject, rule, records.get(rule.name), now, cause)
            if event is not None:
                found.append(event)
        return found

    def _rules_for(self, subject: Subject, live: dict[str, FindingRecord]) -> list[Rule]:
        """The rules of the resource's type, and any rule with a finding ``live`` on it."""
        own = [] if subject.head.deleted or subject.usage is None else self._rules_of(subject.type)
        if not live:
            return own
        named = {rule.name for rule in own}
        return own + [RULES[name] for name in live if name not in named and name in RULES]

    def _rules_of(self, type_name: str) -> list[Rule]:
        rules = self._by_type.get(type_name)
        if rules is None:
            rules = self._by_type[type_name] = [rule for rule in self.rules if rule.applies_to(type_name)]
        return rules

    def _step(self, subject: Subject, rule: Rule, record: FindingRecord | None, now: datetime,
              cause: str) -> WasteFinding | None:
        """One rule on one resource: the event its new state needs, if any (and recorded)."""
        if record is not None and record.cause == cause:
            return record.finding()  # this input made that state: a replay says it again
        if record is not None and to_micros(now) < record.at:
            return None  # older than what is recorded: said already, or overtaken
        verdict = self._verdict(subject, rule)
        event = transition(subject, rule.name, record, verdict, now)
        if event is not None:
            self.kept.put_finding(subject.head.uid, rule.name, FindingRecord.of(event, to_micros(now), cause))
        return event

    def _verdict(self, subject: Subject, rule: Rule) -> Waste | Unknown | str | None:
        """The rule's verdict; a reason (text) to resolve when the resource went or the rule is off."""
        if subject.head.deleted:
            return "the resource was deleted"
        if rule.name not in self._enabled or not rule.applies_to(subject.type):
            return "the rule no longer applies (analyzer.waste settings)"
        return rule.check(subject)


def transition(subject: Subject, pattern: str, record: FindingRecord | None, verdict: Any,
               now: datetime) -> WasteFinding | None:
    """open (new), updated (evidence changed) or resolved (reason gone); None when nothing changes."""
    is_open = record is not None and record.is_open
    if isinstance(verdict, Unknown):
        return None  # cannot tell: what was said stands
    if isinstance(verdict, Waste):
        if not is_open:
            return _finding(subject, pattern, "open", verdict.reason, verdict.since or now, verdict, now)
        if verdict.evidence != record.evidence:
            since = datetime.fromisoformat(record.since) if record.since else None
            return _finding(subject, pattern, "updated", verdict.reason, since, verdict, now)
        return None
    if not is_open:
        return None
    last = record.finding()
    reason = verdict if isinstance(verdict, str) else f"no longer: {last.reason}"
    return WasteFinding(**{**last.model_dump(exclude={"event_id"}), "status": "resolved", "reason": reason,
                           "detected_at": now})


def _finding(subject: Subject, pattern: str, status: str, reason: str, since: datetime | None, verdict: Waste,
             now: datetime) -> WasteFinding:
    resource = subject.resource
    return WasteFinding(uid=subject.head.uid, type=resource["type"], account=resource["account"],
                        region=resource["region"], pattern=pattern, reason=reason, since=since, detected_at=now,
                        status=status, evidence=verdict.evidence, units={**_units(subject), **verdict.units},
                        lacking=list(verdict.lacking))


def _units(subject: Subject) -> dict[str, Any]:
    if subject.usage is None:
        return {}
    units = {name: extract(subject.resource, path) for name, path in subject.usage.units.items()}
    return {name: value for name, value in units.items() if value is not None}
