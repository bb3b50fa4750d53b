"""The tag heuristics' first look (``_may_tell``) never hides a guess the rules would make."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.attribution import heuristics
from streams.attribution.heuristics import guess_from_tags, iac_tag_guess

# Every key the rules read, in the case they read it and in others, with prefixed keys and
# unrelated ones: the tags a guess can come from, and those it cannot.
KEYS = sorted({*heuristics.TELLING_KEYS, *heuristics.TERRAFORM_KEYS, "Terraform", "TF-Managed",
               heuristics.KUBERNETES_PREFIX + "prod", heuristics.PULUMI_PREFIX + "project",
               "kubernetes.io/cluster", "pulumi", "Name", "owner", "team", "env", "cost-center", "managedby"})
VALUES = ["terraform", "Terraform", "pulumi", "cdk", "crossplane", "cloudformation", "", "alice", "stack-1", "manual"]
TAGS = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)),
                       st.one_of(st.sampled_from(VALUES), st.text(max_size=8)), max_size=6)


def _rules_alone(tags: dict[str, str], kind: str) -> heuristics.Guess | None:
    """guess_from_tags without its first look."""
    guesses = (heuristics._system_tag_guess(tags), heuristics._tool_tag_guess(tags),
               heuristics._creator_tag_guess(tags))
    return next((guess for guess in guesses if guess is not None
                 and (kind == "created" or guess.actor.via not in heuristics.IAC_TOOLS)), None)


@settings(max_examples=3000, deadline=None)
@given(TAGS, st.sampled_from(["created", "modified", "deleted"]))
def test_the_first_look_gives_what_the_rules_give(tags: dict[str, str], kind: str) -> None:
    assert guess_from_tags(tags, kind) == _rules_alone(tags, kind)


@settings(max_examples=3000, deadline=None)
@given(TAGS)
def test_the_owner_guess_is_what_the_rules_give(tags: dict[str, str]) -> None:
    system = heuristics._system_tag_guess(tags)
    expected = system if system is not None and system.actor.via in heuristics.IAC_TOOLS else heuristics._tool_tag_guess(tags)
    assert iac_tag_guess(tags) == expected


def test_each_rule_is_reached_through_the_first_look() -> None:
    cases = {"aws:cloudformation:stack-name": "cloudformation-stack", "aws:autoscaling:groupName": "autoscaling-group",
             "eks:nodegroup-name": "eks-tag", "kubernetes.io/cluster/prod": "kubernetes-cluster-tag",
             "pulumi:project": "iac-tool-tag", "TF-Managed": "iac-tool-tag", "creator": "created-by-tag"}
    for key, rule in cases.items():
        assert guess_from_tags({"Name": "x", key: "alice"}).rule == rule, key
    assert guess_from_tags({"Name": "x", "provisioner": "Crossplane"}).actor.via == "crossplane"
    assert guess_from_tags({"Name": "x", "owner": "alice", "env": "prod"}) is None
