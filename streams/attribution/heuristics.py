"""Who made a resource when CloudTrail has nothing to say: the tags tools leave behind.

Each guess names the rule that made it; its confidence is that rule's measured accuracy
(streams/attribution/calibration.py), and it always comes with the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from elava.events import Actor
from elava.user_agents import IAC_TOOLS
from streams.attribution.calibration import heuristic_confidence

CREATOR_TAGS = ("created-by", "CreatedBy", "createdBy", "created_by", "creator", "Creator")
MANAGER_TAGS = ("ManagedBy", "managed-by", "managed_by", "managedBy", "provisioner", "Provisioner")
STACK_TAG, AUTOSCALING_TAG = "aws:cloudformation:stack-name", "aws:autoscaling:groupName"
EKS_TAGS = ("eks:cluster-name", "eks:nodegroup-name", "aws:eks:cluster-name")
KUBERNETES_PREFIX, PULUMI_PREFIX = "kubernetes.io/cluster/", "pulumi:"
TERRAFORM_KEYS = ("terraform", "tf-managed", "terraform-managed")  # compared lower-case
# Every key a rule below reads: most resources carry none of them, and one look at their keys
# says so (``_may_tell``) before the rules each walk the tags (a rule reading a new key adds it here).
TELLING_KEYS = frozenset((STACK_TAG, AUTOSCALING_TAG, *EKS_TAGS, *MANAGER_TAGS, *CREATOR_TAGS))
TELLING_PREFIXES = (KUBERNETES_PREFIX, PULUMI_PREFIX)


@dataclass(frozen=True)
class Guess:
    actor: Actor
    rule: str  # a key of calibration.HEURISTIC_RULES
    evidence: list[str]

    @property
    def confidence(self) -> float:
        return heuristic_confidence(self.rule)


def _tag(key: str, value: str) -> str:
    return f"tag:{key}={value}"


def _service(name: str, via: str, rule: str, evidence: str) -> Guess:
    actor = Actor(type="AWSService", name=name, kind="automation" if via == "cloudformation" else "service", via=via)
    return Guess(actor, rule, [evidence])


def _system_tag_guess(tags: dict[str, str]) -> Guess | None:
    if STACK_TAG in tags:
        stack = tags[STACK_TAG]
        return _service(f"cloudformation stack {stack}", "cloudformation", "cloudformation-stack",
                        _tag(STACK_TAG, stack))
    if AUTOSCALING_TAG in tags:
        group = tags[AUTOSCALING_TAG]
        return _service("autoscaling.amazonaws.com", "autoscaling", "autoscaling-group", _tag(AUTOSCALING_TAG, group))
    for key in EKS_TAGS:
        if key in tags:
            return _service("eks.amazonaws.com", "eks", "eks-tag", _tag(key, tags[key]))
    cluster = next((k for k in tags if k.startswith(KUBERNETES_PREFIX)), None)
    if cluster:
        return _service("kubernetes", "eks", "kubernetes-cluster-tag", _tag(cluster, tags[cluster]))
    return None


def _tool_tag_guess(tags: dict[str, str]) -> Guess | None:
    for key in MANAGER_TAGS:
        tool = tags.get(key, "").lower()
        if tool in ("terraform", "pulumi", "cloudformation", "cdk", "crossplane"):
            actor = Actor(type="Unknown", name=tool, kind="automation", via=tool)
            return Guess(actor, "iac-tool-tag", [_tag(key, tags[key])])
    for key in tags:
        if key.startswith(PULUMI_PREFIX):
            return Guess(Actor(name="pulumi", kind="automation", via="pulumi"), "iac-tool-tag", [_tag(key, tags[key])])
        if key.lower() in TERRAFORM_KEYS:
            return Guess(Actor(name="terraform", kind="automation", via="terraform"), "iac-tool-tag",
                         [_tag(key, tags[key])])
    return None


def _creator_tag_guess(tags: dict[str, str]) -> Guess | None:
    for key in CREATOR_TAGS:
        if tags.get(key):
            actor = Actor(type="Unknown", name=tags[key], kind="unknown", via="tag")
            return Guess(actor, "created-by-tag", [_tag(key, tags[key])])
    return None


def _may_tell(tags: dict[str, str]) -> bool:
    """Whether any rule can guess from ``tags``: one of their keys is one a rule reads."""
    return any(key in TELLING_KEYS or key.startswith(TELLING_PREFIXES) or key.lower() in TERRAFORM_KEYS
               for key in tags)


def iac_tag_guess(tags: dict[str, str]) -> Guess | None:
    """The infrastructure-as-code tool the tags name: a CloudFormation stack, ManagedBy=terraform, pulumi:*."""
    if not _may_tell(tags):
        return None
    system = _system_tag_guess(tags)
    return system if system is not None and system.actor.via in IAC_TOOLS else _tool_tag_guess(tags)


def guess_from_tags(tags: dict[str, str], kind: str = "created") -> Guess | None:
    """The most telling tag wins: system tags, then tool tags, then a creator tag.

    An IaC tag says who owns a resource, not who changed it: it names the actor of a
    creation only. A modification or deletion without CloudTrail evidence is not pinned
    on the IaC tool (a hand-made change to a Terraform resource is what drift is for).
    """
    if not _may_tell(tags):
        return None
    guesses = (_system_tag_guess(tags), _tool_tag_guess(tags), _creator_tag_guess(tags))
    return next((guess for guess in guesses
                 if guess is not None and (kind == "created" or guess.actor.via not in IAC_TOOLS)), None)
