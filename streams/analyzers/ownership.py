"""Who owns a resource, as its tags say, and whether a change was made by that owner.

Tags say who *owns* a resource (a CloudFormation stack, ``ManagedBy=terraform``,
``pulumi:*``, or a tag named in ``analyzer.drift.managed_by_tags``), never who changed
it. A change to an owned resource is in band only when CloudTrail shows it made through
the owning tool (its ``via``), or by AWS itself acting for a service (``kind: service``).
Anything else — a person in the console, a script, or nobody known yet — is out of band.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from elava.events import Actor, AttributedChange, FieldChange
from elava.user_agents import IAC_TOOLS
from streams.attribution.heuristics import iac_tag_guess

# Tools that act through another's name: CDK deploys through CloudFormation, OpenTofu is Terraform's fork.
SAME_TOOL = {"cdk": "cloudformation", "opentofu": "terraform"}


@dataclass(frozen=True)
class Owner:
    """``tool`` is None when a configured tag names an owner that is no known IaC tool."""

    tool: str | None
    evidence: str

    @property
    def label(self) -> str:
        return self.tool or self.evidence.removeprefix("tag:")


def _family(via: str | None) -> str | None:
    return SAME_TOOL.get(via, via) if via else None


def iac_owner(tags: dict[str, str], managed_by_tags: Iterable[str] = ()) -> Owner | None:
    """The IaC tool the tags say owns the resource, if any."""
    guess = iac_tag_guess(tags)
    if guess is not None:
        return Owner(guess.actor.via, guess.evidence[0])
    for key in managed_by_tags:
        value = tags.get(key)
        if value:
            tool = value.lower()
            return Owner(tool if tool in IAC_TOOLS else None, f"tag:{key}={value}")
    return None


def tags_before(tags: dict[str, str], diff: list[FieldChange]) -> dict[str, str]:
    """The tags a resource had before ``diff`` (a hand-made change may remove the ownership tag)."""
    before = dict(tags)
    for change in diff:
        if not change.path.startswith("tags."):
            continue
        key = change.path[5:]
        if change.op == "add":
            before.pop(key, None)
        else:
            before[key] = change.old
    return before


def made_by_owner(owner: Owner, attributed: AttributedChange | None) -> bool:
    """CloudTrail shows the change made through the owning tool, or by an AWS service."""
    if attributed is None or attributed.provisional or attributed.confidence <= 0:
        return False  # unknown (or a guess from tags): not shown to be the owner's
    actor: Actor = attributed.actor
    if actor.kind == "service":
        return True
    via = _family(actor.via)
    return via in IAC_TOOLS if owner.tool is None else via == _family(owner.tool)
