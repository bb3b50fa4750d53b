"""Who acts in the attribution scenarios, and the CloudTrail records they leave.

People: alice (IAM user, AWS CLI), bob@example.com (IAM Identity Center user in the
console), carol (IAM user in the console, named only by ``invokedBy: signin.amazonaws.com``),
and terraform-deployer (Terraform through an assumed role with a machine session name).
Managers of resources: CloudFormation (its service role), Auto Scaling and EKS (their
service-linked roles). What each identity is, by the rules of collectors/cloudtrail/normalize/identity.py,
is the truth a scenario's attribution is compared with.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache

from collectors.cloudtrail.normalize.identity import actor_from_record
from elava.demo.simulated import ACCOUNT, REGION
from elava.events import Actor


def _assumed(role: str, session: str, invoked_by: str | None = None, path: str = "") -> dict:
    identity = {"type": "AssumedRole", "principalId": f"AROA{role[:6].upper()}:{session}", "accountId": ACCOUNT,
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": f"AROA{role[:6].upper()}",
                                                     "accountId": ACCOUNT, "userName": role,
                                                     "arn": f"arn:aws:iam::{ACCOUNT}:role/{path}{role}"}}}
    return identity | ({"invokedBy": invoked_by} if invoked_by else {})


def _user(name: str, **extra: str) -> dict:
    return {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accountId": ACCOUNT,
            "principalId": f"AIDA{name.upper()}", "userName": name, **extra}


SSO_ROLE = "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b"
IDENTITIES = {
    "alice": _user("alice"),
    "bob@example.com": _assumed(SSO_ROLE, "bob@example.com", path="aws-reserved/sso.amazonaws.com/"),
    "carol": _user("carol", invokedBy="signin.amazonaws.com"),
    "terraform-deployer": _assumed("terraform-deployer", "aws-go-sdk-1764320000"),
    "cloudformation": _assumed("orders-stack-cfn-role", "AWSCloudFormation", "cloudformation.amazonaws.com"),
    "autoscaling": _assumed("AWSServiceRoleForAutoScaling", "AutoScaling", "autoscaling.amazonaws.com",
                            "aws-service-role/autoscaling.amazonaws.com/"),
    "eks": _assumed("AWSServiceRoleForAmazonEKS", "AmazonEKS", "eks.amazonaws.com",
                    "aws-service-role/eks.amazonaws.com/"),
}
AGENTS = {
    "alice": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0",
    "bob@example.com": "signin.amazonaws.com",
    "carol": "AWS Internal",
    "terraform-deployer": "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io)",
    "cloudformation": "cloudformation.amazonaws.com",
    "autoscaling": "autoscaling.amazonaws.com",
    "eks": "eks.amazonaws.com",
}
PEOPLE = ("alice", "bob@example.com", "carol", "terraform-deployer")  # who makes the grid's changes


def record(name: str, source: str, actor: str, at: datetime, request: dict, response: dict | None = None,
           error: str | None = None) -> dict:
    """A CloudTrail record as AWS writes it, for ``actor``'s call ``name``."""
    body = {"eventVersion": "1.09", "userIdentity": IDENTITIES[actor], "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source, "eventName": name, "awsRegion": REGION, "sourceIPAddress": "203.0.113.7",
            "userAgent": AGENTS[actor], "requestParameters": request, "responseElements": response,
            "eventID": str(uuid.uuid4()), "readOnly": False, "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT}
    if error:
        body.update(errorCode=error, errorMessage="denied", responseElements=None)
    return body


@cache
def truth(actor: str) -> Actor:
    """The actor attribution should name for ``actor``'s calls (what its records say it is)."""
    return actor_from_record({"userIdentity": IDENTITIES[actor], "userAgent": AGENTS[actor]})
