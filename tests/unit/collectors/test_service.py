"""Many accounts: scanned concurrently, within a bound, each failing alone.

The denial is moto's own: with IAM authorization switched on, the collector's user
may assume ``elava-reader`` in two accounts of three, and STS refuses the third.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import boto3
import pytest
from typer.testing import CliRunner

from collectors import service
from collectors.service import scan_once
from collectors.sink import ListSink
from elava.cli.main import app
from elava.settings import load_settings

ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
DENIED = ACCOUNTS[1]
ROLE = "elava-reader"
TYPE = "ec2.security-group"


def _moto_auth(url: str, after_requests: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=after_requests.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request).close()


def _allow_all(name: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture
def denied_middle_account(aws, boto, monkeypatch):
    """Three accounts with a security group and the role each; the collector's user may
    assume the role in the first and the last only. Yields the moto URL."""
    iam = boto("iam")
    iam.create_user(UserName="collector")
    key = iam.create_access_key(UserName="collector")["AccessKey"]
    allowed = [f"arn:aws:iam::{account}:role/{ROLE}" for account in ACCOUNTS if account != DENIED]
    iam.put_user_policy(UserName="collector", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": allowed}]}))
    for account in ACCOUNTS:
        creds = boto("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup")
        keys = {"aws_access_key_id": creds["Credentials"]["AccessKeyId"],
                "aws_secret_access_key": creds["Credentials"]["SecretAccessKey"],
                "aws_session_token": creds["Credentials"]["SessionToken"]}
        inside = boto3.Session(region_name="us-east-1", **keys)
        inside_iam = inside.client("iam", endpoint_url=aws)
        inside_iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=_allow_all("trust"))
        inside_iam.put_role_policy(RoleName=ROLE, PolicyName="read", PolicyDocument=_allow_all("read"))
        inside.client("ec2", endpoint_url=aws).create_security_group(GroupName=f"in-{account}", Description="d")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    _moto_auth(aws, "0")  # from now on every request is authenticated and authorized
    try:
        yield aws
    finally:
        _moto_auth(aws, "inf")


def _settings(url: str, **overrides):
    return load_settings(None, providers__aws__endpoint_url=url, providers__aws__regions=["us-east-1"],
                         providers__aws__accounts=ACCOUNTS, providers__aws__role_name=ROLE, **overrides)


async def test_an_account_whose_role_is_denied_fails_alone(denied_middle_account):
    sink = ListSink()

    scans = await scan_once(_settings(denied_middle_account), sink, [TYPE])

    assert [scan.report.account for scan in scans] == ACCOUNTS
    assert {r.name for r in sink.resources(TYPE) if r.name.startswith("in-")} == {
        f"in-{account}" for account in ACCOUNTS if account != DENIED}
    by_account = {scan.report.account: scan.report for scan in scans}
    assert not by_account[ACCOUNTS[0]].partial and not by_account[ACCOUNTS[2]].partial
    [failure] = by_account[DENIED].failures()
    assert (failure.type, failure.error_class) == (TYPE, "access-denied")
    assert "AssumeRole" in failure.error and DENIED in failure.error
    denied_markers = [m for m in sink.markers if m.account == DENIED]
    assert len(denied_markers) == 16 and {(m.status, m.error_class) for m in denied_markers} == {
        ("failed", "access-denied")}  # every shard told: nothing is inferred from this scan
    assert {m.status for m in sink.markers if m.account != DENIED} == {"ok"}


def test_elava_scan_reports_the_denied_account_and_exits_3(denied_middle_account, tmp_path):
    env = {"ELAVA_PROVIDERS__AWS__ACCOUNTS": json.dumps(ACCOUNTS), "ELAVA_PROVIDERS__AWS__ROLE_NAME": ROLE,
           "ELAVA_STORAGE__PATH": str(tmp_path / "store"), "ELAVA_POLICIES__ENABLED": "false", "COLUMNS": "250"}

    result = CliRunner().invoke(app, ["scan", "--type", TYPE, "--endpoint-url", denied_middle_account], env=env)

    assert result.exit_code == 3, result.output
    assert f"account {DENIED} not scanned (access-denied)" in result.output
    for account in ACCOUNTS:
        assert f"in-{account}" in result.output or account == DENIED


async def test_accounts_are_scanned_concurrently_within_the_bound(aws, boto, monkeypatch):
    boto("ec2").create_security_group(GroupName="shared", Description="d")
    accounts = [f"{n:012d}" for n in range(1, 6)]
    active, peak, real = 0, 0, service.scan_account

    async def counting(*args, **kwargs):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            return await real(*args, **kwargs)
        finally:
            active -= 1

    monkeypatch.setattr(service, "scan_account", counting)
    settings = load_settings(None, providers__aws__endpoint_url=aws, providers__aws__account_concurrency=2)

    scans = await scan_once(settings, ListSink(), [TYPE], accounts)

    assert peak == 2 and [scan.report.account for scan in scans] == accounts


async def test_a_slow_account_does_not_hold_the_others(aws, monkeypatch):
    accounts = ["000000000001", "000000000002", "000000000003"]
    others_done, finished = asyncio.Event(), []
    real = service.scan_account

    async def first_waits_for_the_others(session, account, *args, **kwargs):
        if account == accounts[0]:
            await others_done.wait()  # never released if the others had to wait for it
        report = await real(session, account, *args, **kwargs)
        finished.append(account)
        if set(finished) == set(accounts[1:]):
            others_done.set()
        return report

    monkeypatch.setattr(service, "scan_account", first_waits_for_the_others)
    settings = load_settings(None, providers__aws__endpoint_url=aws, providers__aws__account_concurrency=3)

    await asyncio.wait_for(scan_once(settings, ListSink(), [TYPE], accounts), timeout=60)

    assert finished[-1] == accounts[0]



async def test_an_account_whose_sts_does_not_answer_fails_alone(aws):
    from elava.demo.simulated import free_port

    settings = load_settings(None, providers__aws__endpoint_url=f"http://127.0.0.1:{free_port()}",
                             providers__aws__role_name=ROLE)
    sink = ListSink()

    scan = await service.scan_account_once(settings, ACCOUNTS[0], sink, None, [TYPE])

    [failure] = scan.report.failures()
    assert failure.error_class == "endpoint-error" and ACCOUNTS[0] in failure.error
    assert {(m.status, m.error_class) for m in sink.markers} == {("failed", "endpoint-error")}
    assert len(sink.markers) == 16
