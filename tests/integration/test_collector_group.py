"""Two collectors in one group share 20 simulated accounts and hand them over.

The accounts are moto accounts reached by assuming a role, as in a real estate; the
scheduler publishes one request per account, keyed by account id.
"""

from __future__ import annotations

import asyncio
import uuid

import boto3
import pytest

from collectors.requests import run_scheduler, serve_scan_requests
from elava.demo.simulated import SimulatedAccount
from elava.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ACCOUNTS = [f"{100000000000 + n}" for n in range(20)]
ROLE = "elava-audit"


def plant_one_group_per_account(account: SimulatedAccount) -> None:
    sts = account.client("sts")
    for number, account_id in enumerate(ACCOUNTS):
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="setup")["Credentials"]
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=account.endpoint_url,
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
        ec2.create_security_group(GroupName=f"only-in-{number}", Description="marks the account")


class Collector:
    """One member of the collector group, running as a task in this process."""

    def __init__(self, settings) -> None:
        self.settings, self.stop = settings, asyncio.Event()
        self.scanned: list[tuple[str, set[str]]] = []
        self.partitions: set[int] = set()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(serve_scan_requests(
            self.settings, self.stop, on_scan=self._record, on_assign=self._assigned))

    def _record(self, scan) -> None:
        self.scanned.append((scan.report.account, {r.status for r in scan.report.results.values()}))

    def _assigned(self, partitions: set[int]) -> None:
        self.partitions = partitions

    async def leave(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 60)


async def wait_for(condition, timeout: float = 90.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.2)


async def assert_each_account_saw_only_its_own_group(settings) -> None:
    from elava.events import Observation
    from elava.topics import Topics
    from tests.integration.reading import read_topic

    records = await read_topic(settings.kafka.bootstrap_servers, Topics(settings.kafka).observations)
    names: dict[str, set] = {}
    for record in records:
        if dict(record.headers)["ce_type"] == b"elava.observation":
            page = Observation.from_bytes(record.value)
            names.setdefault(page.account, set()).update(r.name for r in page.resources)
    assert names == {a: {"default", f"only-in-{n}"} for n, a in enumerate(ACCOUNTS)}


@pytest.fixture
def estate(account):
    plant_one_group_per_account(account)
    return account


async def test_two_collectors_share_twenty_accounts_and_rebalance_when_one_stops(kafka_bootstrap, estate):
    run = f"group-{uuid.uuid4().hex[:6]}"
    settings = load_settings(
        None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run, kafka__partitions=4,
        collector__group_id=run, worker__session_timeout="6s",
        providers__aws__endpoint_url=estate.endpoint_url, providers__aws__accounts=ACCOUNTS,
        providers__aws__role_name=ROLE, tiers=[{"name": "default", "types": ["ec2.security-group"]}])
    first, second = Collector(settings), Collector(settings)
    first.start()
    second.start()
    await wait_for(lambda: first.partitions and second.partitions and not first.partitions & second.partitions
                   and len(first.partitions | second.partitions) == 4)

    assert await run_scheduler(settings, once=True) == 20
    await wait_for(lambda: len(first.scanned) + len(second.scanned) == 20)
    assert first.scanned and second.scanned, "both collectors take a share"
    assert sorted(a for a, _ in first.scanned + second.scanned) == ACCOUNTS
    assert all(statuses == {"ok"} for _, statuses in first.scanned + second.scanned)

    await assert_each_account_saw_only_its_own_group(settings)

    await first.leave()
    await wait_for(lambda: second.partitions == {0, 1, 2, 3})
    before = len(second.scanned)
    assert await run_scheduler(settings, once=True) == 20
    await wait_for(lambda: len(second.scanned) - before == 20)
    assert sorted(a for a, _ in second.scanned[before:]) == ACCOUNTS
    await second.leave()
