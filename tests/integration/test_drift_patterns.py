"""Drift and lifecycle patterns on a real broker: exactly the expected events, once each,
and the same from the in-process driver.

The scenario, scanned after each act: a Terraform-managed security group opened to the
world by hand (out-of-band drift, actor unknown: no trail record), an instance
terminated moments after launch and a bucket deleted as soon (short-lived), the bucket
created again (recreated), a rule added, removed and added again (plain drift each time, then flapping).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

import aioboto3
import pytest

from collectors.aws.scanner import scan_account
from collectors.redact import Redactor
from elava.catalogue import registry
from elava.demo.drivers import EmbeddedDriver, KafkaDriver
from elava.demo.simulated import ACCOUNT, CREDENTIALS, IMAGE_ID, REGION, SimulatedAccount

pytestmark = pytest.mark.integration
TYPES = ("ec2.instance", "ec2.security-group", "s3.bucket")
BUCKET = "elava-it-cache"
OFFICE_8080 = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}


class Scenario:
    def __init__(self, account: SimulatedAccount) -> None:
        self.ec2, self.s3 = account.client("ec2"), account.client("s3")
        self.ids: dict[str, str] = {}

    def create(self) -> None:
        tags = [{"Key": "ManagedBy", "Value": "terraform"}]
        self.ids["api"] = self.ec2.create_security_group(GroupName="api", Description="api", TagSpecifications=[
            {"ResourceType": "security-group", "Tags": tags}])["GroupId"]
        self.ids["web"] = self.ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
        self.ids["batch"] = self.ec2.run_instances(ImageId=IMAGE_ID, MinCount=1, MaxCount=1, TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "batch-1"}]}])["Instances"][0]["InstanceId"]
        self.s3.create_bucket(Bucket=BUCKET)

    def hand_change_terminate_delete(self) -> None:
        self.ec2.authorize_security_group_ingress(GroupId=self.ids["api"], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        self.ec2.terminate_instances(InstanceIds=[self.ids["batch"]])
        self.s3.delete_bucket(Bucket=BUCKET)

    def recreate_and_open(self) -> None:
        self.s3.create_bucket(Bucket=BUCKET)
        self.ec2.authorize_security_group_ingress(GroupId=self.ids["web"], IpPermissions=[OFFICE_8080])

    def close(self) -> None:
        self.ec2.revoke_security_group_ingress(GroupId=self.ids["web"], IpPermissions=[OFFICE_8080])

    def open_again(self) -> None:
        self.ec2.authorize_security_group_ingress(GroupId=self.ids["web"], IpPermissions=[OFFICE_8080])

    def acts(self) -> list[Callable[[], None]]:
        return [self.create, self.hand_change_terminate_delete, self.recreate_and_open, self.close, self.open_again]


async def play(driver) -> list[tuple[list, list]]:
    """Per act: the drift and pattern events the driver published."""
    with SimulatedAccount() as account:
        account.reset()
        await driver.start()
        try:
            session = aioboto3.Session(region_name=REGION, **CREDENTIALS)
            types, run, redactor = [registry.get(name) for name in TYPES], uuid.uuid4().hex[:8], Redactor.ephemeral()
            played = []
            for number, act in enumerate(Scenario(account).acts(), start=1):
                act()
                await scan_account(session, ACCOUNT, [REGION], types, driver.sink, buckets=16, page_size=500,
                                   endpoint_url=account.endpoint_url, scan_id=f"it-{run}-{number}", redactor=redactor)
                result = await driver.results()
                played.append((result.drift, result.patterns))
            return played
        finally:
            await driver.stop()


def comparable(played: list[tuple[list, list]]) -> list[tuple[list, list]]:
    """What must agree between drivers (ids of resources differ between two moto accounts)."""
    acts = []
    for drift, patterns in played:
        acts.append((
            sorted((d.type, d.summary, d.severity, tuple(d.rules), d.out_of_band, d.owner,
                    d.actor.name if d.actor else None, d.version) for d in drift),
            sorted((p.pattern, p.type, p.name, p.subject, tuple((e.kind, e.version) for e in p.evidence))
                   for p in patterns),
        ))
    return acts


def once_each(played: list[tuple[list, list]]) -> None:
    ids = Counter(event.event_id for drift, patterns in played for event in [*drift, *patterns])
    assert [event_id for event_id, count in ids.items() if count > 1] == []


async def test_drift_and_patterns_are_the_expected_events_once_each_from_both_drivers(kafka_bootstrap, tmp_path):
    embedded_run = await play(EmbeddedDriver(tmp_path / "embedded"))
    streamed_run = await play(KafkaDriver(kafka_bootstrap, tmp_path))
    once_each(embedded_run)
    once_each(streamed_run)
    embedded, streamed = comparable(embedded_run), comparable(streamed_run)
    assert streamed == embedded

    web_rule = "ingress rule added: tcp port 8080 from 10.0.0.0/8"
    assert embedded == [
        ([], []),
        ([("ec2.security-group", "ingress rule added: tcp port 22 from 0.0.0.0/0", "critical",
           ("out-of-band", "world-open-admin-port"), True, "terraform", None, 2)],
         [("short-lived", "ec2.instance", "batch-1", None, (("created", 1), ("deleted", 2))),
          ("short-lived", "s3.bucket", BUCKET, None, (("created", 1), ("deleted", 2)))]),
        ([("ec2.security-group", web_rule, "low", ("changed",), False, None, None, 2)],
         [("recreated", "s3.bucket", BUCKET, None, (("deleted", 2), ("created", 3)))]),
        ([("ec2.security-group", "ingress rule removed: tcp port 8080 from 10.0.0.0/8", "low", ("changed",), False,
           None, None, 3)], []),
        ([("ec2.security-group", web_rule, "low", ("changed",), False, None, None, 4)],
         [("flapping", "ec2.security-group", "web", "attributes.ingress",
           (("modified", 2), ("modified", 3), ("modified", 4)))]),
    ]
