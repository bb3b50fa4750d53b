"""Volumes family: EBS volumes (attached or not), snapshots (public or not), AMIs."""

from __future__ import annotations

from elava.catalogue import registry
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"


def _tags(kind: str, **tags: str) -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def _instance(ec2, ami: str) -> str:
    return ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


@covers("ec2.volume")
async def test_volumes_say_whether_they_are_attached(scan, boto, ami):
    ec2 = boto("ec2")
    instance = _instance(ec2, ami)
    attached = ec2.create_volume(AvailabilityZone="us-east-1a", Size=100, VolumeType="gp3", Encrypted=True,
                                 TagSpecifications=_tags("volume", Name="data", team="db"))["VolumeId"]
    ec2.attach_volume(VolumeId=attached, InstanceId=instance, Device="/dev/sdf")
    loose = ec2.create_volume(AvailabilityZone="us-east-1b", Size=8)["VolumeId"]

    run = await scan([registry.get("ec2.volume")])

    volumes = {r.id: r for r in run.resources("ec2.volume")}
    assert {attached, loose} <= set(volumes)  # the instance's root volume is observed too
    data = volumes[attached]
    assert data.uid == f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/{attached}"
    assert (data.type, data.name, data.tags) == ("ec2.volume", "data", {"Name": "data", "team": "db"})
    assert (data.attributes["size_gib"], data.attributes["volume_type"], data.attributes["encrypted"]) == (
        100, "gp3", True)
    assert (data.attributes["state"], data.attributes["attached"]) == ("in-use", True)
    # moto leaves DeleteOnTermination out of attachments it made by attach_volume (AWS says false).
    assert data.attributes["attachments"] == [
        {"instance_id": instance, "device": "/dev/sdf", "delete_on_termination": None}]
    unattached = volumes[loose].attributes
    assert (unattached["state"], unattached["attached"], unattached["attachments"]) == ("available", False, [])
    assert unattached["availability_zone"] == "us-east-1b" and unattached["create_time"].endswith("+00:00")
    assert run.report.calls_by_type() == {"ec2.volume": 1}


@covers("ec2.snapshot")
async def test_snapshots_say_whether_they_are_public(scan, boto):
    ec2 = boto("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=20)["VolumeId"]
    public = ec2.create_snapshot(VolumeId=volume, Description="nightly",
                                 TagSpecifications=_tags("snapshot", Name="nightly"))["SnapshotId"]
    ec2.modify_snapshot_attribute(SnapshotId=public, Attribute="createVolumePermission", OperationType="add",
                                  GroupNames=["all"])
    private = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.modify_snapshot_attribute(SnapshotId=private, Attribute="createVolumePermission", OperationType="add",
                                  UserIds=["111122223333"])

    run = await scan([registry.get("ec2.snapshot")])

    snapshots = {r.id: r for r in run.resources("ec2.snapshot")}
    # moto ignores OwnerIds=["self"] (AWS does not): this holds because the fixture
    # leaves out moto's AMI catalogue and the snapshots that come with it.
    assert set(snapshots) == {public, private}
    nightly = snapshots[public]
    assert nightly.uid == f"arn:aws:ec2:us-east-1::snapshot/{public}"  # AWS's format: no account
    assert (nightly.type, nightly.name, nightly.tags) == ("ec2.snapshot", "nightly", {"Name": "nightly"})
    attributes = nightly.attributes
    assert (attributes["volume_id"], attributes["volume_size_gib"], attributes["description"]) == (
        volume, 20, "nightly")
    assert (attributes["public"], attributes["shared_with"], attributes["owner_id"]) == (True, [], ACCOUNT)
    assert (snapshots[private].attributes["public"], snapshots[private].attributes["shared_with"]) == (
        False, ["111122223333"])
    assert run.report.calls_by_type() == {"ec2.snapshot": 1 + 2}  # list; sharing per snapshot


@covers("ec2.image")
async def test_images_of_the_account_only(scan, boto, ami):
    ec2 = boto("ec2")
    image = ec2.create_image(InstanceId=_instance(ec2, ami), Name="web-2025-01", Description="golden web",
                             TagSpecifications=_tags("image", team="web"))["ImageId"]

    run = await scan([registry.get("ec2.image")])

    [resource] = run.resources("ec2.image")  # not moto's catalogue of public AMIs
    assert resource.uid == f"arn:aws:ec2:us-east-1::image/{image}"
    assert (resource.type, resource.id, resource.name, resource.tags) == (
        "ec2.image", image, "web-2025-01", {"team": "web"})
    attributes = resource.attributes
    assert (attributes["state"], attributes["public"], attributes["owner_id"]) == ("available", False, ACCOUNT)
    assert attributes["description"] == "golden web"
    assert all(snapshot.startswith("snap-") for snapshot in attributes["snapshots"])
    assert run.report.calls_by_type() == {"ec2.image": 1}
