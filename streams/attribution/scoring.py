"""Score CloudTrail events as explanations of one change, and name who made it.

A change is explained part by part. A creation or a deletion is one part; a
modification's diff is grouped by what can make it: tags (tag APIs), ingress rules and
egress rules (the security-group rule calls), the state (Start/Stop/...), everything
else. A candidate is a trail event on the same resource uid (the join guarantees the
exact resource match); its score for a part adds up:

- 0.55 exact resource match;
- 0.30 for an event name consistent with the part (a create for a creation, a delete
  for a deletion, a tag API for tags, the rule call whose effect the diff shows — an
  Authorize…Ingress for a new ingress rule —, Start/Stop for the state), 0.10 for a
  generic mutation (Modify*, Update*, …, another rule call on a rule diff);
- up to 0.15 for time: inside the window between the previous scan and this one,
  fading outside it (``slack`` before, ``skew`` after); beyond that the event explains
  another version.

A call that cannot have made a part is no candidate for it: a contradicting name (a
delete for a creation), a call made for another part (a tag API never creates, deletes
or changes a rule; a rule call changes no tag). A creation or deletion with a consistent
call is explained by such calls only: a Stop or a Modify before a Terminate did not
delete the instance.

Within a part, competing actors share the confidence: the best actor's score times its
share of all actors' best scores, so two equally plausible people get half each and
never a confident wrong answer (the later call wins the tie). Across parts, actors are
co-authors: each is listed with the share of the diff (field changes) it explained.
The raw score becomes a confidence through the fitted calibration (calibration.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from elava.events import Actor, ChangeEvent, Contributor, FieldChange, TrailEvent
from streams.attribution.calibration import cloudtrail_confidence
from streams.attribution.heuristics import guess_from_tags

RESOURCE_MATCH, CONSISTENT, GENERIC, TIMELY = 0.55, 0.30, 0.10, 0.15
CREATE = ("Create", "Run", "Allocate", "Register", "Import", "Copy", "Put", "Publish")
DELETE = ("Delete", "Terminate", "Release", "Deregister", "ScheduleKeyDeletion", "Remove")
TAGS = ("CreateTags", "DeleteTags", "TagResource", "UntagResource", "AddTags", "RemoveTags", "PutBucketTagging",
        "DeleteBucketTagging", "TagRole", "UntagRole", "ChangeTagsForResource", "AddTagsToResource",
        "RemoveTagsFromResource", "TagLogGroup", "TagQueue", "CreateOrUpdateTags")
RULES = ("AuthorizeSecurityGroup", "RevokeSecurityGroup", "ModifySecurityGroupRules",
         "UpdateSecurityGroupRuleDescriptions")
RULE_SIDES = {"attributes.ingress": "Ingress", "attributes.egress": "Egress"}
NO_ACTOR = Actor()  # who made a change nothing explains (frozen: one for all)
NO_ACTOR_JSON = NO_ACTOR.model_dump(mode="json")
STATE = ("Start", "Stop", "Reboot", "Terminate", "Hibernate")
MUTATE = ("Modify", "Update", "Put", "Attach", "Detach", "Associate", "Disassociate", "Enable", "Disable", "Set",
          "Change", "Replace", "Reset", "Add", "Remove", "Apply", "Authorize", "Revoke")


@dataclass(frozen=True)
class Window:
    """When the change can have happened: after the previous scan, by this one.

    ``slack`` tolerates calls a little before the previous scan's start (a scan takes
    time); ``skew`` tolerates clocks: a call after the observation cannot explain it.
    """

    start: datetime | None
    end: datetime
    slack: timedelta = timedelta(minutes=15)
    skew: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Credit:
    """One co-author: the raw score behind its confidence is kept for calibration."""

    actor: Actor
    share: float
    score: float
    confidence: float
    evidence: list[str]

    def as_record(self) -> dict:
        return {"actor": self.actor.model_dump(mode="json"), "share": self.share, "confidence": self.confidence,
                "evidence": self.evidence, "score": self.score}

    def contributor(self) -> Contributor:
        return Contributor(actor=self.actor, share=self.share, confidence=self.confidence, evidence=self.evidence)


@dataclass(frozen=True)
class Attribution:
    actor: Actor
    confidence: float
    evidence: list[str]
    method: str  # cloudtrail | heuristic | none
    credits: list[Credit] = field(default_factory=list)  # every co-author, largest share first
    rule: str | None = None  # the heuristic's rule

    def as_record(self) -> dict:
        # Most changes are explained by nothing (no trail event, no telling tag): their actor's
        # JSON is made once, and each record gets a copy of it.
        actor = dict(NO_ACTOR_JSON) if self.actor is NO_ACTOR else self.actor.model_dump(mode="json")
        record = {"actor": actor, "confidence": self.confidence,
                  "evidence": self.evidence, "method": self.method,
                  "actors": [credit.as_record() for credit in self.credits]}
        return record | ({"rule": self.rule} if self.rule else {})


@dataclass(frozen=True)
class Part:
    """What one kind of call can make: ``created``, ``deleted``, ``tags``, ``ingress``, ``egress``,
    ``state`` or ``other``, with the field changes it holds (its weight in the shares)."""

    name: str
    changes: tuple[FieldChange, ...] = ()

    @property
    def weight(self) -> int:
        return max(1, len(self.changes))


def _part_of(path: str) -> str:
    if path.startswith("tags.") or path == "tags":
        return "tags"
    if path in RULE_SIDES:
        return RULE_SIDES[path].lower()
    return "state" if path == "attributes.state" else "other"


def parts_of(change: ChangeEvent) -> list[Part]:
    if change.kind != "modified":
        return [Part(change.kind)]
    grouped: dict[str, list[FieldChange]] = {}
    for item in change.diff:
        grouped.setdefault(_part_of(item.path), []).append(item)
    return [Part(name, tuple(items)) for name, items in grouped.items()] or [Part("other")]


def _without_description(rule: object) -> object:
    return {k: v for k, v in rule.items() if k != "description"} if isinstance(rule, dict) else rule


def _rule_calls(changes: tuple[FieldChange, ...]) -> set[str]:
    """The security-group rule calls (exact event names) whose effect ``changes`` show.

    A rule added is an Authorize, a rule removed a Revoke, on its side (ingress or
    egress); a rule removed and another added on one side may be one
    ModifySecurityGroupRules, and an UpdateSecurityGroupRuleDescriptions when the two
    differ only by their description.
    """
    calls: set[str] = set()
    for path, side in RULE_SIDES.items():
        added = [d.new for d in changes if d.path == path and d.op == "add"]
        removed = [d.old for d in changes if d.path == path and d.op == "remove"]
        if added:
            calls.add(f"AuthorizeSecurityGroup{side}")
        if removed:
            calls.add(f"RevokeSecurityGroup{side}")
        if added and removed:
            calls.add("ModifySecurityGroupRules")
            if any(_without_description(a) == _without_description(r) for a in added for r in removed):
                calls.add(f"UpdateSecurityGroupRuleDescriptions{side}")
    return calls


def _generic(name: str) -> float:
    return GENERIC if name.startswith(MUTATE) else 0.0


def _lifecycle_name_score(part: Part, name: str) -> float | None:
    if name.startswith(TAGS):
        return None  # CreateTags creates no resource; DeleteTags deletes none
    made, unmade = (CREATE, DELETE) if part.name == "created" else (DELETE, CREATE)
    if name.startswith(made):
        return CONSISTENT
    return None if name.startswith(unmade) else 0.0


def name_score(part: Part, name: str) -> float | None:
    """What the call's name says of it making ``part``; None: it cannot have made it."""
    if part.name in ("created", "deleted"):
        return _lifecycle_name_score(part, name)
    is_tag, is_rule, is_state = name.startswith(TAGS), name.startswith(RULES), name.startswith(STATE)
    if part.name == "tags":
        return CONSISTENT if is_tag else (None if is_rule or is_state else _generic(name))
    if part.name in ("ingress", "egress"):
        if is_rule:  # a rule call whose effect the diff does not show still touched the rules
            return CONSISTENT if name in _rule_calls(part.changes) else GENERIC
        return None if is_tag or is_state else _generic(name)
    if part.name == "state":
        return CONSISTENT if is_state else (None if is_tag or is_rule else _generic(name))
    # Everything else: a state call has side effects (addresses, times); tags and rules have none.
    return None if is_tag or is_rule else (0.0 if is_state else _generic(name))


def _time_score(event_time: datetime, window: Window) -> float:
    after_start = window.start is None or event_time > window.start
    if after_start and event_time <= window.end:
        return TIMELY
    if after_start:
        return max(0.0, TIMELY * (1 - (event_time - window.end) / window.skew))
    return max(0.0, TIMELY * (1 - (window.start - event_time) / window.slack))


def _part_score(part: Part, event: TrailEvent, window: Window) -> tuple[float, float]:
    """(score, name score) of ``event`` for ``part``; score 0 when it cannot explain it."""
    name, timely = name_score(part, event.event_name), _time_score(event.event_time, window)
    if name is None or timely <= 0:  # cannot have made it, or it explains another version
        return 0.0, 0.0
    return RESOURCE_MATCH + name + timely, name


def _usable(change: ChangeEvent, event: TrailEvent) -> bool:
    return not event.read_only and not event.error_code and event.resource.uid == change.uid


def score(change: ChangeEvent, event: TrailEvent, window: Window) -> float:
    """How well ``event`` explains ``change`` (its best part); 0 when it cannot explain it at all."""
    if not _usable(change, event):
        return 0.0
    return max(_part_score(part, event, window)[0] for part in parts_of(change))


def _actor_key(actor: Actor) -> str:
    return actor.arn or f"{actor.type}:{actor.name}"


@dataclass(frozen=True)
class PartWinner:
    actor: Actor
    raw: float  # best score times its share of the competitors' best scores
    evidence: list[str]
    latest: datetime


def explain_part(part: Part, candidates: list[TrailEvent], window: Window) -> PartWinner | None:
    scored = [(*_part_score(part, e, window), e) for e in candidates]
    scored = [(s, n, e) for s, n, e in scored if s > 0]
    if part.name in ("created", "deleted") and any(n == CONSISTENT for _, n, _ in scored):
        scored = [(s, n, e) for s, n, e in scored if n == CONSISTENT]  # only a delete deletes
    if not scored:
        return None
    best: dict[str, tuple[float, TrailEvent]] = {}
    for s, _, e in scored:
        key = _actor_key(e.actor)
        if key not in best or s > best[key][0]:
            best[key] = (s, e)
    top_score, top_event = max(best.values(), key=lambda pair: (pair[0], pair[1].event_time))
    share = top_score / sum(s for s, _ in best.values())
    key = _actor_key(top_event.actor)
    mine = [e for _, _, e in scored if _actor_key(e.actor) == key]
    return PartWinner(top_event.actor, min(1.0, top_score * share), sorted({e.trail_event_id for e in mine}),
                      max(e.event_time for e in mine))


@dataclass
class _Tally:
    """What one actor explained of a change, summed over the parts it won."""

    actor: Actor
    latest: datetime
    weight: int = 0
    weighted_raw: float = 0.0
    evidence: set[str] = field(default_factory=set)

    def add(self, part: Part, won: PartWinner) -> None:
        self.weight += part.weight
        self.weighted_raw += won.raw * part.weight
        self.evidence.update(won.evidence)
        self.latest = max(self.latest, won.latest)


def _credits(parts: list[Part], winners: list[PartWinner | None]) -> list[Credit]:
    """Co-authors: each actor's share of the explained field changes, its weighted raw score;
    largest share first, then the surer, then the later."""
    tallies: dict[str, _Tally] = {}
    for part, won in zip(parts, winners, strict=True):
        if won is not None:
            tallies.setdefault(_actor_key(won.actor), _Tally(won.actor, won.latest)).add(part, won)
    explained = sum(t.weight for t in tallies.values())
    ranked = []
    for t in tallies.values():
        raw = round(t.weighted_raw / t.weight, 3)
        credit = Credit(t.actor, round(t.weight / explained, 3), raw, cloudtrail_confidence(raw), sorted(t.evidence))
        ranked.append((credit.share, credit.confidence, t.latest, credit))
    ranked.sort(key=lambda row: row[:3], reverse=True)
    return [row[3] for row in ranked]


def attribute(change: ChangeEvent, candidates: list[TrailEvent], window: Window) -> Attribution:
    """Who made ``change``: CloudTrail if any candidate explains a part of it, else tags."""
    usable = [e for e in candidates if _usable(change, e)]
    parts = parts_of(change)
    winners = [explain_part(part, usable, window) for part in parts]
    if not any(winners):
        return fallback(change)
    credits = _credits(parts, winners)
    main = credits[0]
    # The evidence of the change is every co-author's: a late event that names one more
    # co-author is new evidence, and the change is attributed (and published) again.
    evidence = sorted({event_id for credit in credits for event_id in credit.evidence})
    return Attribution(main.actor, main.confidence, evidence, "cloudtrail", credits)


def fallback(change: ChangeEvent) -> Attribution:
    tags = change.resource.tags if change.resource is not None else {}
    guess = guess_from_tags(tags, change.kind)
    if guess is None:
        return Attribution(NO_ACTOR, 0.0, [], "none")
    credit = Credit(guess.actor, 1.0, guess.confidence, guess.confidence, guess.evidence)
    return Attribution(guess.actor, guess.confidence, guess.evidence, "heuristic", [credit], guess.rule)
