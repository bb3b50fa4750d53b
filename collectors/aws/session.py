"""aioboto3 sessions: the environment's own, or an assumed role in a scanned account.

An assumed-role session refreshes itself: its credentials are fetched from STS once
up front (a wrong role or external id fails here, clearly, not mid-scan) and again
by botocore shortly before they expire, so a long scan never runs on stale keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aioboto3
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.credentials import CredentialProvider

from elava.catalogue.arns import partition_for
from elava.settings import AwsSettings

DEFAULT_SESSION_NAME = "elava-collector"
ASSUME_ROLE_METHOD = "elava-assume-role"


def plain_session(region: str | None = None, profile: str | None = None) -> aioboto3.Session:
    """Credentials from the environment/profile/instance role, as boto finds them."""
    return aioboto3.Session(region_name=region, profile_name=profile)


def role_arn(account: str, role_name: str, region: str = "us-east-1") -> str:
    return f"arn:{partition_for(region)}:iam::{account}:role/{role_name}"


def _sts_fetcher(base: aioboto3.Session, request: dict[str, Any], *, region: str,
                 endpoint_url: str | None) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def fetch() -> dict[str, Any]:
        async with base.client("sts", region_name=region, endpoint_url=endpoint_url) as sts:
            answer = await sts.assume_role(**request)
        credentials = answer["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    return fetch


class _FixedCredentialProvider(CredentialProvider):
    """Puts our refreshable credentials first in the session's provider chain."""

    METHOD = ASSUME_ROLE_METHOD
    CANONICAL_NAME = "ElavaAssumeRole"

    def __init__(self, credentials: AioRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    async def load(self) -> AioRefreshableCredentials:
        return self._credentials


async def assume_role_session(
    base: aioboto3.Session, account: str, role_name: str, *, external_id: str | None = None,
    session_name: str = DEFAULT_SESSION_NAME, duration_seconds: int = 3600,
    region: str | None = None, endpoint_url: str | None = None,
) -> aioboto3.Session:
    """A session acting as ``role_name`` in ``account``, assumed with ``base``'s credentials."""
    region = region or base.region_name or "us-east-1"
    request: dict[str, Any] = {
        "RoleArn": role_arn(account, role_name, region),
        "RoleSessionName": session_name,
        "DurationSeconds": duration_seconds,
    }
    if external_id:
        request["ExternalId"] = external_id
    fetch = _sts_fetcher(base, request, region=region, endpoint_url=endpoint_url)
    credentials = AioRefreshableCredentials.create_from_metadata(
        metadata=await fetch(), refresh_using=fetch, method=ASSUME_ROLE_METHOD)
    botocore_session = AioSession()
    botocore_session.get_component("credential_provider").insert_before(
        "env", _FixedCredentialProvider(credentials))
    return aioboto3.Session(botocore_session=botocore_session, region_name=region)


async def session_for_account(aws: AwsSettings, account: str, *, base: aioboto3.Session | None = None,
                              session_name: str = DEFAULT_SESSION_NAME) -> aioboto3.Session:
    """The session to scan ``account`` with: the role from settings if one is set."""
    base = base or plain_session(region=aws.regions[0])
    if not aws.role_name:
        return base
    external_id = aws.external_id.get_secret_value() if aws.external_id else None
    return await assume_role_session(
        base, account, aws.role_name, external_id=external_id, session_name=session_name,
        region=aws.regions[0], endpoint_url=aws.endpoint_url,
    )
