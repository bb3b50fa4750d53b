"""Effectors against moto: each checks the resource, then makes its one change."""

from __future__ import annotations

import pytest

from elava.settings import AwsSettings
from streams.executor.aws import AwsEffectors
from streams.executor.exceptions import EffectorError
from tests.unit.streams.executor.fixtures import request

PROTECT = "elava:protect"


@pytest.fixture
async def effectors(aws: str):
    made = AwsEffectors(AwsSettings(endpoint_url=aws))
    yield made
    await made.close()


def instance(ec2, tags: dict[str, str] | None = None) -> str:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    answer = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                               TagSpecifications=spec)
    return answer["Instances"][0]["InstanceId"]


def volume(ec2, tags: dict[str, str] | None = None) -> str:
    spec = [{"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    return ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, TagSpecifications=spec)["VolumeId"]


def tags_of(ec2, rid: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [rid]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def state_of(ec2, rid: str) -> str:
    return ec2.describe_instances(InstanceIds=[rid])["Reservations"][0]["Instances"][0]["State"]["Name"]


async def test_tag_an_instance(ec2, effectors):
    req = request("tag", rid=instance(ec2), tags={"owner": "alice"})
    before = await effectors.inspect(req, PROTECT)
    assert (before.exists, before.protected, before.done) == (True, False, False)
    await effectors.apply(req)
    assert tags_of(ec2, req.uid.rsplit("/", 1)[1]) == {"owner": "alice"}
    assert (await effectors.inspect(req, PROTECT)).done


async def test_untag_an_instance(ec2, effectors):
    rid = instance(ec2, {"temp": "1", "keep": "2"})
    req = request("untag", rid=rid, tags=["temp"])
    await effectors.apply(req)
    assert tags_of(ec2, rid) == {"keep": "2"}
    assert (await effectors.inspect(req, PROTECT)).done


async def test_tag_a_bucket_keeps_its_other_tags(s3, effectors):
    s3.create_bucket(Bucket="logs")
    s3.put_bucket_tagging(Bucket="logs", Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    req = request("tag", type_name="s3.bucket", rid="logs", tags={"owner": "bob"})
    await effectors.apply(req)
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="logs")["TagSet"]}
    assert tags == {"team": "a", "owner": "bob"}
    assert (await effectors.inspect(req, PROTECT)).done
    gone = await effectors.inspect(request("tag", type_name="s3.bucket", rid="nope"), PROTECT)
    assert not gone.exists


async def test_stop_an_instance(ec2, effectors):
    req = request("stop", rid=instance(ec2))
    assert not (await effectors.inspect(req, PROTECT)).done
    await effectors.apply(req)
    assert state_of(ec2, req.uid.rsplit("/", 1)[1]) in ("stopping", "stopped")
    assert (await effectors.inspect(req, PROTECT)).done


async def test_delete_an_unattached_volume(ec2, effectors):
    rid = volume(ec2)
    req = request("delete", type_name="ec2.volume", rid=rid)
    seen = await effectors.inspect(req, PROTECT)
    assert (seen.exists, seen.applies, seen.done) == (True, True, False)
    await effectors.apply(req)
    assert ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [rid]}])["Volumes"] == []
    after = await effectors.inspect(req, PROTECT)
    assert (after.exists, after.done) == (False, True)


async def test_an_attached_volume_no_longer_applies(ec2, effectors):
    rid, server = volume(ec2), instance(ec2)
    ec2.attach_volume(VolumeId=rid, InstanceId=server, Device="/dev/sdf")
    seen = await effectors.inspect(request("delete", type_name="ec2.volume", rid=rid), PROTECT)
    assert (seen.exists, seen.applies) == (True, False)
    assert server in seen.detail


async def test_aws_refusing_a_delete_is_an_effector_error(ec2, effectors):
    rid, server = volume(ec2), instance(ec2)
    ec2.attach_volume(VolumeId=rid, InstanceId=server, Device="/dev/sdf")
    with pytest.raises(EffectorError) as raised:
        await effectors.apply(request("delete", type_name="ec2.volume", rid=rid))
    assert raised.value.code == "VolumeInUse"


@pytest.mark.parametrize(("action", "type_name", "make"), [
    ("tag", "ec2.instance", instance), ("stop", "ec2.instance", instance), ("delete", "ec2.volume", volume)])
async def test_the_protect_tag_is_seen(ec2, effectors, action, type_name, make):
    rid = make(ec2, {PROTECT: "true"})
    assert (await effectors.inspect(request(action, type_name=type_name, rid=rid), PROTECT)).protected


async def test_a_missing_instance_is_gone(effectors, aws):
    seen = await effectors.inspect(request("stop", rid="i-0123456789abcdef0"), PROTECT)
    assert not seen.exists


def test_the_catalogue_is_explicit(effectors):
    assert effectors.supports(request("delete", type_name="ec2.volume", rid="vol-1"))
    assert not effectors.supports(request("delete", type_name="s3.bucket", rid="b"))
