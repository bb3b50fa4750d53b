"""ec2.instance: shape, tags, terminated instances, user data never leaves."""

from __future__ import annotations

import base64

from elava.catalogue import registry
from elava.redaction import key_id_of
from tests.unit.collectors.conftest import REDACTOR
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"
SECRET = "hunter2-PLANTED-SECRET-7f3a"
USER_DATA = f"#!/bin/sh\nexport DB_PASSWORD={SECRET}\n"


def _run_instances(ec2, ami: str, count: int = 1, **kwargs) -> list[str]:
    answer = ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count, **kwargs)
    return [instance["InstanceId"] for instance in answer["Instances"]]


@covers("ec2.instance")
async def test_instance_is_observed_with_its_key_attributes(scan, boto, ami):
    ec2 = boto("ec2")
    group = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    [instance_id] = _run_instances(
        ec2, ami, InstanceType="t3.micro", SecurityGroupIds=[group], KeyName="ops", Monitoring={"Enabled": True},
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "Name", "Value": "web-1"}, {"Key": "team", "Value": "platform"}]}],
    )

    run = await scan([registry.get("ec2.instance")])

    [resource] = run.resources("ec2.instance")
    assert resource.uid == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance_id}"
    assert (resource.type, resource.id, resource.account, resource.region) == (
        "ec2.instance", instance_id, ACCOUNT, "us-east-1")
    assert resource.name == "web-1"
    assert resource.tags == {"Name": "web-1", "team": "platform"}
    attributes = resource.attributes
    assert attributes["state"] == "running"
    assert attributes["instance_type"] == "t3.micro"
    assert attributes["image_id"] == ami
    assert attributes["security_groups"] == [group]
    assert attributes["key_name"] == "ops"
    assert attributes["monitoring"] == "enabled"
    assert attributes["vpc_id"].startswith("vpc-") and attributes["subnet_id"].startswith("subnet-")
    assert attributes["private_ip"] and attributes["availability_zone"].startswith("us-east-1")
    assert attributes["launch_time"].endswith("+00:00")  # UTC ISO, JSON-safe
    assert attributes["user_data"] is None  # none given: nothing to redact, and it shows
    assert run.report.results[("us-east-1", "ec2.instance")].status == "ok"


async def test_terminated_instances_are_absent_so_they_become_deletions(scan, boto, ami):
    ec2 = boto("ec2")
    kept, gone = _run_instances(ec2, ami, count=2)
    stopped = _run_instances(ec2, ami)[0]
    ec2.terminate_instances(InstanceIds=[gone])
    ec2.stop_instances(InstanceIds=[stopped])

    run = await scan([registry.get("ec2.instance")], buckets=2)

    states = {r.id: r.attributes["state"] for r in run.resources("ec2.instance")}
    assert states == {kept: "running", stopped: "stopped"}
    marker_ids = sorted(i for m in run.markers("ec2.instance") for i in m.ids)
    assert marker_ids == sorted([kept, stopped])  # the complete scan lacks `gone`: deleted
    assert all(m.status == "ok" for m in run.markers("ec2.instance"))


async def test_user_data_never_leaves_the_collector(scan, boto, ami):
    ec2 = boto("ec2")
    _run_instances(ec2, ami, UserData=USER_DATA)
    _run_instances(ec2, ami, UserData="#!/bin/sh\necho other\n")

    run = await scan([registry.get("ec2.instance")])

    emitted = b"".join(obs.to_bytes() for obs in run.sink.observations)
    emitted += b"".join(marker.to_bytes() for marker in run.sink.markers)
    assert SECRET.encode() not in emitted
    assert base64.b64encode(USER_DATA.encode()) not in emitted  # nor its base64 (as AWS returns it)
    digests = {r.attributes["user_data"] for r in run.resources("ec2.instance")}
    assert len(digests) == 2  # different user data, different digests: a change stays visible
    assert all(key_id_of(d) == REDACTOR.key_id for d in digests)  # keyed: a guess cannot be checked offline


async def test_instances_of_each_region_are_scanned_in_that_region(scan, boto, ami):
    _run_instances(boto("ec2", "us-east-1"), ami)
    [eu_instance] = _run_instances(boto("ec2", "eu-west-1"), ami)

    run = await scan([registry.get("ec2.instance")], regions=["us-east-1", "eu-west-1"])

    by_region = {r.region: r for r in run.resources("ec2.instance")}
    assert set(by_region) == {"us-east-1", "eu-west-1"}
    assert by_region["eu-west-1"].uid == f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/{eu_instance}"
    assert {m.region for m in run.markers("ec2.instance")} == {"us-east-1", "eu-west-1"}
