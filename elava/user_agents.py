"""How a call was made, read from ``userAgent``, ``invokedBy`` and the console flag.

A `Tool` is the "via" of an actor (console, cli, terraform, an AWS service, ...) and,
where the tool settles it, the kind of actor: a console is a person at a browser, an
infrastructure-as-code tool is automation, an AWS service acting for you is a service.
The AWS CLI says nothing on its own: a person or a CI job may be typing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["human", "service", "automation", "unknown"]

AWS_SERVICE_SUFFIX = ".amazonaws.com"
CLOUDFORMATION = "cloudformation.amazonaws.com"
# Calls the console's back end makes for you; it tells nothing about who or how.
AWS_INTERNAL = "AWS Internal"
CONSOLE_AGENTS = frozenset({"signin.amazonaws.com", "console.amazonaws.com"})
# The vias of infrastructure-as-code tools: a change made through one is in band (the
# SIEM adapter reports the others as out-of-band changes).
IAC_TOOLS = frozenset({"cloudformation", "cdk", "pulumi", "opentofu", "terraform", "ansible", "crossplane"})


@dataclass(frozen=True)
class Tool:
    via: str | None = None
    kind: Kind | None = None  # None: the tool leaves the kind to the identity


# (pattern on the user agent, via, kind), first match wins. Order matters: Pulumi's
# and CDK's agents also name the SDK they are built on, the CLI names botocore.
_AGENT_RULES: tuple[tuple[re.Pattern[str], str, Kind | None], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), via, kind)
    for pattern, via, kind in (
        (r"^cloudformation\.amazonaws\.com", "cloudformation", "automation"),
        (r"\baws-cdk/", "cdk", "automation"),
        (r"\bpulumi", "pulumi", "automation"),
        (r"\bOpenTofu/", "opentofu", "automation"),
        (r"\bTerraform/|terraform-provider-aws", "terraform", "automation"),
        (r"\bAnsible/", "ansible", "automation"),
        (r"\bCrossplane", "crossplane", "automation"),
        (r"^aws-cli/|\baws-cli/", "cli", None),
        (r"\bAWSPowerShell|\bAWS\.Tools\.", "powershell", None),
        (r"^Mozilla/|^console\.[a-z0-9-]+\.amazonaws\.com", "console", "human"),
        (r"\bBoto3/|\bBotocore/|\baws-sdk-|\baws-chalice/|\bAWS(SDK|Sdk)", "sdk", "automation"),
    )
)
_SERVICE_AGENT = re.compile(r"^([a-z0-9-]+(\.[a-z0-9-]+)*)\.amazonaws\.com$")


def service_short_name(principal: str) -> str:
    """``autoscaling.amazonaws.com`` -> ``autoscaling``; ``ecs-tasks.amazonaws.com`` -> ``ecs-tasks``."""
    return principal[: -len(AWS_SERVICE_SUFFIX)] if principal.endswith(AWS_SERVICE_SUFFIX) else principal


def _from_invoked_by(invoked_by: str | None) -> Tool | None:
    if not invoked_by or invoked_by == AWS_INTERNAL:
        return None
    if invoked_by == CLOUDFORMATION:
        return Tool("cloudformation", "automation")
    return Tool(service_short_name(invoked_by), "service")


def _from_user_agent(user_agent: str | None) -> Tool | None:
    if not user_agent:
        return None
    agent = user_agent.strip()
    if agent in CONSOLE_AGENTS:
        return Tool("console", "human")
    for pattern, via, kind in _AGENT_RULES:
        if pattern.search(agent):
            return Tool(via, kind)
    service = _SERVICE_AGENT.match(agent)
    if service:  # an AWS service calling for you: "autoscaling.amazonaws.com"
        return Tool(service_short_name(agent), "service")
    return None


def tool_of(user_agent: str | None, invoked_by: str | None, from_console: bool = False) -> Tool:
    """The tool behind one call; an unknown agent gives ``Tool()`` (nothing said)."""
    if from_console:  # sessionCredentialFromConsole: the session was made by a console sign-in
        return Tool("console", "human")
    return _from_invoked_by(invoked_by) or _from_user_agent(user_agent) or Tool()
