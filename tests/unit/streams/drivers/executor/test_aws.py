"""Effectors against moto: each checks the resource, then makes its one change."""

from __future__ import annotations

import pytest

from elava.settings import AwsSettings
from streams.drivers.executor.aws import AwsEffectors
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


async def seen(effectors, req):
    """What the executor sees right before acting: the fresh look, then the effector's check."""
    return effectors.inspect(req, (await effectors.look(req)).resource)


async def test_tag_an_instance(ec2, effectors):
    req = request("tag", rid=instance(ec2), tags={"owner": "alice"})
    before = await seen(effectors, req)
    assert (before.exists, before.done) == (True, False)
    applied = await effectors.apply(req)
    assert tags_of(ec2, req.uid.rsplit("/", 1)[1]) == {"owner": "alice"}
    assert [call.operation for call in applied.calls] == ["ec2:create_tags"]
    assert (await seen(effectors, req)).done


async def test_untag_an_instance(ec2, effectors):
    rid = instance(ec2, {"temp": "1", "keep": "2"})
    req = request("untag", rid=rid, tags=["temp"])
    await effectors.apply(req)
    assert tags_of(ec2, rid) == {"keep": "2"}
    assert (await seen(effectors, req)).done


async def test_tag_a_bucket_keeps_its_other_tags(s3, effectors):
    s3.create_bucket(Bucket="logs")
    s3.put_bucket_tagging(Bucket="logs", Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    req = request("tag", type_name="s3.bucket", rid="logs", tags={"owner": "bob"})
    await effectors.apply(req)
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="logs")["TagSet"]}
    assert tags == {"team": "a", "owner": "bob"}
    assert (await seen(effectors, req)).done
    gone = await seen(effectors, request("tag", type_name="s3.bucket", rid="nope"))
    assert not gone.exists


async def test_stop_an_instance(ec2, effectors):
    req = request("stop", rid=instance(ec2))
    assert not (await seen(effectors, req)).done
    await effectors.apply(req)
    assert state_of(ec2, req.uid.rsplit("/", 1)[1]) in ("stopping", "stopped")
    assert (await seen(effectors, req)).done


async def test_a_terminated_instance_is_gone_which_is_done(ec2, effectors):
    req = request("terminate", rid=instance(ec2))
    await effectors.apply(req)
    after = await seen(effectors, req)
    assert (after.exists, after.done) == (False, True)


async def test_delete_an_unattached_volume(ec2, effectors):
    rid = volume(ec2)
    req = request("delete", type_name="ec2.volume", rid=rid)
    before = await seen(effectors, req)
    assert (before.exists, before.applies, before.done) == (True, True, False)
    await effectors.apply(req)
    assert ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [rid]}])["Volumes"] == []
    after = await seen(effectors, req)
    assert (after.exists, after.done) == (False, True)


async def test_an_attached_volume_no_longer_applies(ec2, effectors):
    rid, server = volume(ec2), instance(ec2)
    ec2.attach_volume(VolumeId=rid, InstanceId=server, Device="/dev/sdf")
    now = await seen(effectors, request("delete", type_name="ec2.volume", rid=rid))
    assert (now.exists, now.applies) == (True, False)
    assert server in now.detail


async def test_aws_refusing_a_delete_is_an_effector_error_with_its_request_id(ec2, effectors):
    rid, server = volume(ec2), instance(ec2)
    ec2.attach_volume(VolumeId=rid, InstanceId=server, Device="/dev/sdf")
    with pytest.raises(EffectorError) as raised:
        await effectors.apply(request("delete", type_name="ec2.volume", rid=rid))
    assert raised.value.code == "VolumeInUse"
    assert [call.operation for call in raised.value.calls] == ["ec2:delete_volume"]
    assert raised.value.calls[0].request_id


async def test_the_look_is_the_resource_a_scan_builds_with_its_calls(ec2, effectors):
    rid = instance(ec2, {PROTECT: "true", "team": "a"})
    look = await effectors.look(request("stop", rid=rid))
    assert look.resource.tags == {PROTECT: "true", "team": "a"}
    assert look.resource.attributes["state"] == "running"
    assert "ec2:describe_instances" in [call.operation for call in look.calls]
    assert all(call.request_id for call in look.calls)


async def test_a_missing_instance_is_gone(effectors, aws):
    assert (await effectors.look(request("stop", rid="i-0123456789abcdef0"))).resource is None


async def test_the_executor_knows_who_it_is(effectors, aws):
    principal = await effectors.identity()
    assert principal.account == "123456789012" and principal.arn.startswith("arn:aws:")


def test_the_catalogue_is_explicit(effectors):
    assert effectors.supports(request("delete", type_name="ec2.volume", rid="vol-1"))
    assert not effectors.supports(request("delete", type_name="s3.bucket", rid="b"))


def test_every_type_in_the_catalogue_can_be_looked_up():
    from elava.catalogue import registry
    from streams.drivers.executor.aws import CATALOGUE

    assert all(registry.get(type_name).lookup for _, type_name in CATALOGUE)
