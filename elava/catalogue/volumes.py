"""Volumes family: EBS volumes, EBS snapshots, AMIs (the account's own).

What waste detection needs is here: a volume's attachments (an ``available`` volume
is attached to nothing), a snapshot's source volume, an image's snapshots. Snapshots
and images are listed for this account only (``self``): the public catalogue is not
ours to observe. Snapshot and image ARNs carry no account (that is AWS's format).
"""

from __future__ import annotations

from typing import Any

from elava.catalogue.registry import register
from elava.catalogue.relations import uses
from elava.catalogue.trail import family, ids
from elava.catalogue.types import DetailCall, Lifecycle, Lookup, ResourceType
from elava.catalogue.usage import Usage

EC2 = "ec2.amazonaws.com"


def _attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    return {
        "instance_id": attachment.get("InstanceId"),
        "device": attachment.get("Device"),
        "delete_on_termination": attachment.get("DeleteOnTermination"),
    }


def normalise_volume(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    attachments = sorted((_attachment(a) for a in raw.get("Attachments") or []),
                         key=lambda a: (a["instance_id"] or "", a["device"] or ""))
    return {**attributes, "attachments": attachments, "attached": bool(attachments)}


EC2_VOLUME = register(
    ResourceType(
        name="ec2.volume",
        lifecycle=Lifecycle("state", settling=("creating", "deleting")),
        service="ec2",
        list_operation="describe_volumes",
        list_params={"MaxResults": 500},
        result_path="Volumes",
        id_field="VolumeId",
        lookup=Lookup("VolumeIds", gone_errors=frozenset({"InvalidVolume.NotFound", "InvalidVolumeID.Malformed"})),
        arn_template="arn:{partition}:ec2:{region}:{account}:volume/{id}",
        id_prefix="vol",
        tags_from="inline:Tags",
        attributes={
            "state": "State",
            "size_gib": "Size",
            "volume_type": "VolumeType",
            "iops": "Iops",
            "throughput": "Throughput",
            "encrypted": "Encrypted",
            "kms_key_id": "KmsKeyId",
            "availability_zone": "AvailabilityZone",
            "snapshot_id": "SnapshotId || `null`",
            "multi_attach": "MultiAttachEnabled",
            "create_time": "CreateTime",
        },
        transform=normalise_volume,
        edges=(
            uses("instances", "ec2.instance", "attachments[].instance_id"),
            uses("snapshot", "ec2.snapshot", "snapshot_id"),
            uses("kms-key", "kms.key", "kms_key_id"),
        ),
        usage=Usage(units={"gib": "attributes.size_gib", "volume_type": "attributes.volume_type",
                           "iops": "attributes.iops", "throughput_mibps": "attributes.throughput"},
                    created="attributes.create_time"),
        trail=(
            # Attaching changes the instance too (its volumes), detaching likewise.
            family("EBS volumes", EC2, "CreateVolume DeleteVolume ModifyVolume AttachVolume DetachVolume",
                   ids("response.volumeId", "request.volumeId"),
                   ids("request.instanceId", "response.instanceId", type="ec2.instance"),
                   where="volumeId (request or response); instanceId for attach/detach"),
        ),
    )
)


def normalise_snapshot(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    permissions = raw.get("CreateVolumePermissions") or []
    return {
        **attributes,
        "public": any(permission.get("Group") == "all" for permission in permissions),
        "shared_with": sorted(p["UserId"] for p in permissions if p.get("UserId")),
    }


EC2_SNAPSHOT = register(
    ResourceType(
        name="ec2.snapshot",
        lifecycle=Lifecycle("state", settling=("pending",)),
        service="ec2",
        list_operation="describe_snapshots",
        list_params={"OwnerIds": ["self"], "MaxResults": 1000},
        result_path="Snapshots",
        id_field="SnapshotId",
        lookup=Lookup("SnapshotIds", gone_errors=frozenset({"InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed"})),
        arn_template="arn:{partition}:ec2:{region}::snapshot/{id}",
        id_prefix="snap",
        tags_from="inline:Tags",
        details=(
            # Who may create a volume from it: "all" is a public snapshot.
            DetailCall("describe_snapshot_attribute", {"SnapshotId": "SnapshotId"}, "CreateVolumePermissions",
                       static_params={"Attribute": "createVolumePermission"},
                       result_path="CreateVolumePermissions", default=[]),
        ),
        attributes={
            "state": "State",
            "volume_id": "VolumeId",
            "volume_size_gib": "VolumeSize",
            "encrypted": "Encrypted",
            "kms_key_id": "KmsKeyId",
            "description": "Description",
            "storage_tier": "StorageTier",
            "owner_id": "OwnerId",
            "start_time": "StartTime",
        },
        transform=normalise_snapshot,
        edges=(
            uses("volume", "ec2.volume", "volume_id"),
            uses("kms-key", "kms.key", "kms_key_id"),
        ),
        # Orphaned: its volume is gone and no image of ours is made of it.
        usage=Usage(units={"gib": "attributes.volume_size_gib", "storage_tier": "attributes.storage_tier"},
                    uses={"ec2.volume": "attributes.volume_id"}, created="attributes.start_time", usage_facts=True),
        trail=(
            family("EBS snapshots", EC2,
                   "CreateSnapshot CreateSnapshots CopySnapshot DeleteSnapshot ModifySnapshotAttribute "
                   "ResetSnapshotAttribute",
                   ids("response.snapshotId", "response.snapshotSet/snapshotId", "request.snapshotId"),
                   where="snapshotId (response, then request)"),
        ),
    )
)

EC2_IMAGE = register(
    ResourceType(
        name="ec2.image",
        lifecycle=Lifecycle("state", settling=("pending",)),
        service="ec2",
        list_operation="describe_images",
        list_params={"Owners": ["self"], "MaxResults": 1000},
        result_path="Images",
        id_field="ImageId",
        lookup=Lookup("ImageIds", gone_errors=frozenset({"InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable"})),
        name_field="Name",
        arn_template="arn:{partition}:ec2:{region}::image/{id}",
        id_prefix="ami",
        tags_from="inline:Tags",
        attributes={
            "state": "State",
            "image_name": "Name",
            "description": "Description",
            "public": "Public",
            "architecture": "Architecture",
            "platform": "PlatformDetails || Platform",
            "image_type": "ImageType",
            "root_device_type": "RootDeviceType",
            "virtualization_type": "VirtualizationType",
            "boot_mode": "BootMode",
            "ena_support": "EnaSupport",
            "imds_support": "ImdsSupport",
            "snapshots": "sort(BlockDeviceMappings[].Ebs.SnapshotId || `[]`)",
            "owner_id": "OwnerId",
            "creation_date": "CreationDate",
            "deprecation_time": "DeprecationTime",
        },
        edges=(
            uses("snapshots", "ec2.snapshot", "snapshots"),
        ),
        # Unused: no instance of ours runs it (nor anything else that declares it uses images).
        usage=Usage(units={"images": "`1`", "snapshots": "length(attributes.snapshots || `[]`)"},
                    uses={"ec2.snapshot": "attributes.snapshots"}, created="attributes.creation_date",
                    usage_facts=True),
        trail=(
            family("AMIs", EC2, "CreateImage RegisterImage CopyImage DeregisterImage ModifyImageAttribute "
                   "ResetImageAttribute EnableImageDeprecation DisableImageDeprecation",
                   ids("response.imageId", "request.imageId"), where="imageId (response, then request)"),
        ),
    )
)
