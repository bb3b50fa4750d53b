"""Is a role session name a person, or something a machine made up?

For an assumed role, CloudTrail's best hint of *who* is the session name (the last
part of ``assumed-role/<role>/<session>``). People (and IAM Identity Center, which
uses the user's name or e-mail) give names; SDKs, instances and AWS services give
timestamps, instance ids, task ids, function names. Those are not people: the actor
is then the role, doing automation or a service's work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from elava.user_agents import Kind


@dataclass(frozen=True)
class SessionLook:
    workload: str | None  # None: looks like a person
    kind: Kind


HUMAN = SessionLook(None, "human")

# (pattern on the session name, workload, kind), first match wins.
_SESSION_RULES: tuple[tuple[re.Pattern[str], str, Kind], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), workload, kind)
    for pattern, workload, kind in (
        (r"^i-[0-9a-f]{8}([0-9a-f]{9})?$", "ec2", "automation"),  # instance profile credentials
        (r"^AWSCodeBuild-", "codebuild", "automation"),
        (r"^eks-.+-[0-9a-f]{8}-[0-9a-f]{4}-", "eks", "automation"),  # EKS Pod Identity
        (r"^[0-9a-f]{32}$", "ecs", "automation"),  # an ECS task id
        (r"(botocore-session|aws-go-sdk|aws-sdk-[a-z]+|Boto3Session|sdk-session)[-_]?\d*$", "sdk", "automation"),
        (r"^GitHubActions$|^github[-_]?actions|^gha[-_]", "github-actions", "automation"),
        (r"^gitlab|^circleci|^buildkite|^jenkins|^atlantis|^spacelift|^terraform|^tfc-|^argo",
         "ci", "automation"),
        (r"^AutoScaling$|^AWSCloudFormation$|^AWS[A-Z][A-Za-z]+(-|$)|^Amazon[A-Z][A-Za-z]+(-|$)",
         "aws-service", "service"),
        (r"\d{10,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{20,}",
         "machine", "automation"),  # timestamps, UUIDs, long hex: generated
    )
)

_LAMBDA_AGENT = re.compile(r"exec-env/AWS_Lambda_", re.IGNORECASE)
_ECS_AGENT = re.compile(r"exec-env/AWS_ECS_", re.IGNORECASE)
_CI_WORDS = frozenset({
    "ci", "cd", "cicd", "github", "githubactions", "gha", "gitlab", "jenkins", "circleci", "buildkite",
    "atlantis", "spacelift", "pipeline", "pipelines", "deploy", "deployer", "deployment", "automation",
    "bot", "codebuild", "codepipeline", "terraform", "runner", "actions", "cdk",
})


def words(name: str) -> set[str]:
    """``GitHubActionsDeploy-role`` -> {"git", "hub", "actions", "deploy", "role", "github", ...}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    parts = [part.lower() for part in re.split(r"[^A-Za-z0-9]+|\s+", spaced) if part]
    joined = {"".join(parts[i:i + 2]) for i in range(len(parts) - 1)}  # "Git Hub" -> "github"
    return set(parts) | joined | {re.sub(r"[^a-z0-9]", "", name.lower())}


def looks_like_ci(role: str | None) -> bool:
    """A role named for CI/CD (``github-deploy``, ``gitlab-runner``, ``TerraformApply``)."""
    return bool(role) and bool(words(role) & _CI_WORDS)


def look_at_session(session: str | None, role: str | None, user_agent: str | None) -> SessionLook:
    """Whether ``session`` names a person; if not, what made it up."""
    if not session:  # nothing to go by: the role is all we can name
        return SessionLook("unnamed", "unknown")
    if "@" in session:  # an e-mail: IAM Identity Center and most SAML set-ups
        return HUMAN
    agent = user_agent or ""
    # Lambda's session name is the function name: only the agent or the role tells.
    if _LAMBDA_AGENT.search(agent) or (role and role.lower().startswith(f"{session.lower()}-role-")):
        return SessionLook("lambda", "automation")
    if _ECS_AGENT.search(agent):
        return SessionLook("ecs", "automation")
    for pattern, workload, kind in _SESSION_RULES:
        if pattern.search(session):
            return SessionLook(workload, kind)
    return HUMAN
