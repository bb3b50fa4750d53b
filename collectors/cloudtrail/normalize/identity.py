"""Who made a CloudTrail call: ``userIdentity`` (+ user agent, ``invokedBy``) -> `Actor`.

``name`` is what a person reading a change would recognise: the person behind an
assumed role (its session name, or ``sourceIdentity``), the IAM user, ``root``, the
AWS service. When a role session's name was made up by a machine (an SDK timestamp,
an instance id, a Lambda function), the actor is the role. ``role`` is the assumed
role's name; ``kind`` is human / service / automation / unknown; ``via`` is the tool
(console, cli, terraform, cloudformation, sdk, an AWS service, ...) or, failing that,
the workload (ec2, lambda, ecs, ...). See docs/attribution.md for the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from collectors.cloudtrail.normalize.params import lookup
from collectors.cloudtrail.normalize.sessions import look_at_session, looks_like_ci
from elava.events import Actor
from elava.user_agents import CONSOLE_AGENTS, Kind, Tool, service_short_name, tool_of

SSO_ROLE_PREFIX = "AWSReservedSSO_"
SERVICE_LINKED_ROLE_PREFIX = "AWSServiceRoleFor"  # roles AWS services assume themselves
CDK_EXECUTION_ROLE = re.compile(r"^cdk-[a-z0-9]+-cfn-exec-role-")  # CloudFormation deploying a CDK app
ANONYMOUS = "ANONYMOUS_PRINCIPAL"  # S3's account id for unauthenticated requests
# Workloads a role session was recognised as; they say more than a generic "sdk".
WORKLOAD_VIAS = frozenset({"ec2", "lambda", "ecs", "eks", "codebuild", "github-actions", "ci"})
# What a session name can say that is no tool at all.
NOT_A_VIA = frozenset({"machine", "unnamed", "aws-service"})
# Web identity providers that mint tokens for machines, not people.
# Identities a person signs in as: invokedBy signin/console on one of them is a console session.
PERSON_IDENTITY_TYPES = frozenset({"IAMUser", "Root", "AssumedRole", "FederatedUser", "IdentityCenterUser",
                                   "SAMLUser", "WebIdentityUser"})
CI_IDENTITY_PROVIDERS = ("token.actions.githubusercontent.com", "gitlab", "oidc.circleci.com", "app.terraform.io",
                         "oidc.eks.", "vstoken.actions.githubusercontent.com")


@dataclass(frozen=True)
class Principal:
    """What the identity alone says; the tool may still change ``kind``."""

    name: str | None
    kind: Kind
    role: str | None = None
    workload: str | None = None
    ci_role: bool = False


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _arn_tail(arn: str | None, marker: str) -> str | None:
    """The part of ``arn`` after ``marker`` (``federated-user/``), if it has one."""
    if arn and marker in arn:
        return arn.split(marker, 1)[1] or None
    return None


def role_session(identity: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(role name, session name) of an assumed role, from the issuer and the ARN."""
    issuer = lookup(identity, "sessionContext.sessionIssuer")
    issuer = issuer if isinstance(issuer, Mapping) else {}
    tail = _arn_tail(_text(identity.get("arn")), ":assumed-role/")
    role_in_arn, _, session = (tail or "").partition("/")
    role = _text(issuer.get("userName")) or role_in_arn or None
    if not role and (issuer_arn := _text(issuer.get("arn"))):
        role = issuer_arn.rsplit("/", 1)[-1]
    if not session:  # principalId is "AROA...:<session>"
        principal = _text(identity.get("principalId")) or ""
        session = principal.partition(":")[2]
    return role, session or None


def _assumed_role(identity: Mapping[str, Any], record: Mapping[str, Any]) -> Principal:
    role, session = role_session(identity)
    source_identity = _text(lookup(identity, "sessionContext.sourceIdentity"))
    if source_identity:  # set by the identity provider to the person; survives role chaining
        return Principal(source_identity, "human", role)
    if role and role.startswith(SERVICE_LINKED_ROLE_PREFIX):
        invoked_by = _text(identity.get("invokedBy"))
        return Principal(role, "service", role, workload=service_short_name(invoked_by) if invoked_by else None)
    sso = bool(role and role.startswith(SSO_ROLE_PREFIX))
    look = look_at_session(session, role, _text(record.get("userAgent")))
    if look.workload is None:
        return Principal(session, "human", role, ci_role=not sso and looks_like_ci(role))
    return Principal(role, look.kind, role, workload=look.workload)


def _iam_user(identity: Mapping[str, Any], _: Mapping[str, Any]) -> Principal:
    name = _text(identity.get("userName")) or _arn_tail(_text(identity.get("arn")), ":user/")
    if name and "/" in name:  # a user with a path: "user/division/alice"
        name = name.rsplit("/", 1)[-1]
    return Principal(name, "human", ci_role=looks_like_ci(name))


def _federated_user(identity: Mapping[str, Any], _: Mapping[str, Any]) -> Principal:
    name = _arn_tail(_text(identity.get("arn")), ":federated-user/")
    name = name or (_text(identity.get("principalId")) or "").partition(":")[2] or None
    return Principal(name, "human")


def _root(_: Mapping[str, Any], __: Mapping[str, Any]) -> Principal:
    return Principal("root", "human")


def _aws_service(identity: Mapping[str, Any], _: Mapping[str, Any]) -> Principal:
    service = _text(identity.get("invokedBy"))
    return Principal(service, "service", workload=service_short_name(service) if service else None)


def _aws_account(identity: Mapping[str, Any], _: Mapping[str, Any]) -> Principal:
    account = _text(identity.get("accountId"))
    if account == ANONYMOUS:
        return Principal("anonymous", "unknown")
    if service := _text(identity.get("invokedBy")):
        return Principal(service, "service", workload=service_short_name(service))
    return Principal(account, "unknown")  # someone in another account: only the account is known


def _identity_center_user(identity: Mapping[str, Any], record: Mapping[str, Any]) -> Principal:
    # userName is only in sign-in events (additionalEventData.UserName); otherwise the
    # identity store's user id is all CloudTrail gives.
    name = (_text(identity.get("userName")) or _text(lookup(record, "additionalEventData.UserName"))
            or _text(lookup(identity, "onBehalfOf.userId")))
    return Principal(name, "human")


def _federated_by_provider(identity: Mapping[str, Any], _: Mapping[str, Any]) -> Principal:
    provider = (_text(identity.get("identityProvider")) or "").lower()
    machine = any(marker in provider for marker in CI_IDENTITY_PROVIDERS)
    return Principal(_text(identity.get("userName")), "automation" if machine else "human")


def _role(identity: Mapping[str, Any], _: Mapping[str, Any]) -> Principal:
    role = _text(identity.get("userName")) or _arn_tail(_text(identity.get("arn")), ":role/")
    role = role.rsplit("/", 1)[-1] if role else None
    return Principal(role, "automation", role)


def _unknown(identity: Mapping[str, Any], _: Mapping[str, Any]) -> Principal:
    name = (_text(identity.get("userName")) or _text(identity.get("principalId"))
            or _text(identity.get("accountId")))
    return Principal(name, "unknown")


_BY_TYPE: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Principal]] = {
    "IAMUser": _iam_user,
    "AssumedRole": _assumed_role,
    "Role": _role,
    "FederatedUser": _federated_user,
    "Root": _root,
    "AWSService": _aws_service,
    "AWSAccount": _aws_account,
    "IdentityCenterUser": _identity_center_user,
    "SAMLUser": _federated_by_provider,
    "WebIdentityUser": _federated_by_provider,
}
IDENTITY_TYPES = tuple(_BY_TYPE)


def combined_kind(principal: Principal, tool: Tool) -> Kind:
    """The tool settles the kind where it can; a CI-looking role makes the CLI automation."""
    if tool.kind == "human" or tool.kind == "service":
        return tool.kind
    if tool.kind == "automation":
        # An SDK is weaker evidence than the identity being an AWS service.
        return "service" if principal.kind == "service" and tool.via == "sdk" else "automation"
    if principal.kind == "human" and principal.ci_role:
        return "automation"
    return principal.kind


def _from_console(record: Mapping[str, Any], identity_type: str) -> bool:
    """Made in a console session: CloudTrail's flag, or the console named as the invoker of a
    person's identity (``invokedBy: signin.amazonaws.com``), which is no AWS service acting."""
    flag = lookup(record, "sessionCredentialFromConsole")
    if flag is True or str(flag).lower() == "true":
        return True
    return identity_type in PERSON_IDENTITY_TYPES and _text(lookup(record, "userIdentity.invokedBy")) in CONSOLE_AGENTS


def actor_from_record(record: Mapping[str, Any]) -> Actor:
    """The `Actor` of one CloudTrail record; never fails on unknown or missing fields."""
    identity = record.get("userIdentity")
    identity = identity if isinstance(identity, Mapping) else {}
    identity_type = _text(identity.get("type")) or "Unknown"
    principal = _BY_TYPE.get(identity_type, _unknown)(identity, record)
    user_agent = _text(record.get("userAgent"))
    tool = tool_of(user_agent, _text(identity.get("invokedBy")), _from_console(record, identity_type))
    via = tool.via or (principal.workload if principal.workload not in NOT_A_VIA else None)
    if tool.via == "sdk" and principal.workload in WORKLOAD_VIAS:
        via = principal.workload
    if via == "cloudformation" and principal.role and CDK_EXECUTION_ROLE.match(principal.role):
        via = "cdk"
    return Actor(
        type=identity_type,
        arn=_text(identity.get("arn")),
        name=principal.name,
        role=principal.role,
        kind=combined_kind(principal, tool),
        via=via,
        source_ip=_text(record.get("sourceIPAddress")),
        user_agent=user_agent,
    )
