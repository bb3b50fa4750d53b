"""Sessions: the environment's, or a role assumed in the scanned account (STS on moto)."""

from __future__ import annotations

from pydantic import SecretStr

from collectors.aws.session import assume_role_session, plain_session, role_arn, session_for_account
from elava.settings import AwsSettings

TARGET = "210987654321"


async def _caller_arn(session, endpoint_url: str) -> str:
    async with session.client("sts", endpoint_url=endpoint_url) as sts:
        return (await sts.get_caller_identity())["Arn"]


async def test_assumed_role_session_acts_as_the_role_in_the_target_account(aws):
    base = plain_session(region="us-east-1")

    assumed = await assume_role_session(base, TARGET, "elava-reader", external_id="ext-123",
                                        session_name="elava-test", endpoint_url=aws)

    assert await _caller_arn(assumed, aws) == f"arn:aws:sts::{TARGET}:assumed-role/elava-reader/elava-test"
    frozen = await (await assumed.get_credentials()).get_frozen_credentials()
    assert frozen.access_key != "testing" and frozen.token  # temporary credentials, not the base ones
    assert assumed.region_name == "us-east-1"


async def test_settings_without_a_role_use_the_environment_session(aws):
    base = plain_session(region="us-east-1")

    session = await session_for_account(AwsSettings(endpoint_url=aws), TARGET, base=base)

    assert session is base


async def test_settings_with_a_role_assume_it_with_the_external_id(aws):
    settings = AwsSettings(regions=["eu-west-1"], role_name="elava-reader",
                           external_id=SecretStr("ext-456"), endpoint_url=aws)

    session = await session_for_account(settings, TARGET)

    assert (await _caller_arn(session, aws)).startswith(f"arn:aws:sts::{TARGET}:assumed-role/elava-reader/")
    assert session.region_name == "eu-west-1"


def test_role_arns_follow_the_partition():
    assert role_arn(TARGET, "r") == f"arn:aws:iam::{TARGET}:role/r"
    assert role_arn(TARGET, "r", region="cn-north-1") == f"arn:aws-cn:iam::{TARGET}:role/r"
