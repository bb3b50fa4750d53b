"""Small CloudTrail records for the source tests: a security-group change per record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"  # moto's default account, so integration tests can reuse these
REGION = "us-east-1"


def sg_record(event_id: str, group: str = "sg-0123456789abcdef0", *, when: datetime | None = None,
              account: str = ACCOUNT, region: str = REGION, name: str = "AuthorizeSecurityGroupIngress",
              ) -> dict[str, Any]:
    when = when or datetime(2026, 11, 2, 10, 4, 31, tzinfo=UTC)
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/alice", "accountId": account,
                         "userName": "alice"},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "ec2.amazonaws.com",
        "eventName": name, "awsRegion": region, "sourceIPAddress": "203.0.113.24", "userAgent": "aws-cli/2.15",
        "requestParameters": {"groupId": group}, "responseElements": {"_return": True},
        "eventID": event_id, "readOnly": False, "eventType": "AwsApiCall", "recipientAccountId": account,
    }


def group_uid(group: str = "sg-0123456789abcdef0", account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:ec2:{region}:{account}:security-group/{group}"


def envelope(record: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to an SQS target."""
    return {"version": "0", "id": f"eb-{record['eventID']}", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ec2", "account": record["recipientAccountId"], "time": record["eventTime"],
            "region": record["awsRegion"], "resources": [], "detail": record}
