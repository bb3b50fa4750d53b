"""Score CloudTrail events as explanations of one change, and pick the actor.

A candidate is a trail event on the same resource uid (the join guarantees the
exact resource match). Its score adds up:

- 0.55 exact resource match;
- up to 0.30 for an event name consistent with the change (a tag API for a tag
  diff, the rule call whose effect the diff shows — an Authorize…Ingress for a new
  ingress rule —, a create for a creation), 0.10 for a generic mutation (another
  Modify*/Update*, another rule call on a rule diff); a contradicting name (a delete
  for a creation) takes 0.30 away;
- up to 0.15 for time: inside the window between the previous scan and this one,
  fading outside it (``slack`` before, ``skew`` after); beyond that the event
  explains another version.

Competing actors share the confidence: the best actor's score is scaled by its
share of all actors' best scores, so two equally plausible people get 0.5 each
and never a confident wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from elava.events import Actor, ChangeEvent, FieldChange, TrailEvent
from streams.attribution.heuristics import guess_from_tags

RESOURCE_MATCH, CONSISTENT, GENERIC, TIMELY = 0.55, 0.30, 0.10, 0.15
CREATE = ("Create", "Run", "Allocate", "Register", "Import", "Copy", "Put", "Publish")
DELETE = ("Delete", "Terminate", "Release", "Deregister", "ScheduleKeyDeletion", "Remove")
TAGS = ("CreateTags", "DeleteTags", "TagResource", "UntagResource", "AddTags", "RemoveTags", "PutBucketTagging",
        "DeleteBucketTagging", "TagRole", "UntagRole", "ChangeTagsForResource", "AddTagsToResource",
        "RemoveTagsFromResource", "TagLogGroup", "TagQueue")
RULES = ("AuthorizeSecurityGroup", "RevokeSecurityGroup", "ModifySecurityGroupRules",
         "UpdateSecurityGroupRuleDescriptions")
RULE_SIDES = {"attributes.ingress": "Ingress", "attributes.egress": "Egress"}
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
class Attribution:
    actor: Actor
    confidence: float
    evidence: list[str]
    method: str  # cloudtrail | heuristic | none

    def as_record(self) -> dict:
        return {"actor": self.actor.model_dump(mode="json"), "confidence": self.confidence,
                "evidence": self.evidence, "method": self.method}


def _without_description(rule: object) -> object:
    return {k: v for k, v in rule.items() if k != "description"} if isinstance(rule, dict) else rule


def _rule_calls(diff: list[FieldChange]) -> set[str]:
    """The security-group rule calls (exact event names) whose effect ``diff`` shows.

    A rule added is an Authorize, a rule removed a Revoke, on its side (ingress or
    egress); a rule removed and another added on one side may be one
    ModifySecurityGroupRules, and an UpdateSecurityGroupRuleDescriptions when the two
    differ only by their description.
    """
    calls: set[str] = set()
    for path, side in RULE_SIDES.items():
        added = [d.new for d in diff if d.path == path and d.op == "add"]
        removed = [d.old for d in diff if d.path == path and d.op == "remove"]
        if added:
            calls.add(f"AuthorizeSecurityGroup{side}")
        if removed:
            calls.add(f"RevokeSecurityGroup{side}")
        if added and removed:
            calls.add("ModifySecurityGroupRules")
            if any(_without_description(a) == _without_description(r) for a in added for r in removed):
                calls.add(f"UpdateSecurityGroupRuleDescriptions{side}")
    return calls


def _name_score(change: ChangeEvent, name: str) -> float:
    if change.kind != "modified" and name.startswith(TAGS):
        return 0.0  # CreateTags creates no resource; DeleteTags deletes none
    if change.kind == "created":
        return CONSISTENT if name.startswith(CREATE) else (-CONSISTENT if name.startswith(DELETE) else 0.0)
    if change.kind == "deleted":
        return CONSISTENT if name.startswith(DELETE) else (-CONSISTENT if name.startswith(CREATE) else 0.0)
    if name.startswith(RULES):  # a rule call on a rule diff it does not show still touched the rules
        rule_calls = _rule_calls(change.diff)
        return (CONSISTENT if name in rule_calls else GENERIC) if rule_calls else 0.0
    paths = [d.path for d in change.diff]
    specific = (
        (any(p.startswith("tags.") for p in paths) and name.startswith(TAGS))
        or ("attributes.state" in paths and name.startswith(STATE))
    )
    if specific:
        return CONSISTENT
    return GENERIC if name.startswith(MUTATE) and not name.startswith(TAGS) else 0.0


def _time_score(event_time: datetime, window: Window) -> float:
    after_start = window.start is None or event_time > window.start
    if after_start and event_time <= window.end:
        return TIMELY
    if after_start:
        return max(0.0, TIMELY * (1 - (event_time - window.end) / window.skew))
    return max(0.0, TIMELY * (1 - (window.start - event_time) / window.slack))


def score(change: ChangeEvent, event: TrailEvent, window: Window) -> float:
    """0 for events that cannot explain the change (read-only, failed, contradicting, elsewhere)."""
    if event.read_only or event.error_code or event.resource.uid != change.uid:
        return 0.0
    name, timely = _name_score(change, event.event_name), _time_score(event.event_time, window)
    if name < 0 or timely <= 0:  # contradicting, or it explains another version
        return 0.0
    return RESOURCE_MATCH + name + timely


def _actor_key(actor: Actor) -> str:
    return actor.arn or f"{actor.type}:{actor.name}"


def attribute(change: ChangeEvent, candidates: list[TrailEvent], window: Window) -> Attribution:
    """The best explanation of ``change``: CloudTrail if any candidate scores, else tags."""
    scored = [(score(change, e, window), e) for e in candidates]
    scored = [(s, e) for s, e in scored if s > 0]
    if not scored:
        return fallback(change)
    best_by_actor: dict[str, tuple[float, TrailEvent]] = {}
    for s, e in scored:
        key = _actor_key(e.actor)
        if key not in best_by_actor or s > best_by_actor[key][0]:
            best_by_actor[key] = (s, e)
    top_score, top_event = max(best_by_actor.values(), key=lambda pair: (pair[0], pair[1].event_time))
    share = top_score / sum(s for s, _ in best_by_actor.values())
    evidence = sorted(e.trail_event_id for s, e in scored if _actor_key(e.actor) == _actor_key(top_event.actor))
    return Attribution(top_event.actor, round(min(1.0, top_score * share), 3), evidence, "cloudtrail")


def fallback(change: ChangeEvent) -> Attribution:
    tags = change.resource.tags if change.resource is not None else {}
    guess = guess_from_tags(tags, change.kind)
    if guess is None:
        return Attribution(Actor(), 0.0, [], "none")
    return Attribution(guess.actor, guess.confidence, guess.evidence, "heuristic")
