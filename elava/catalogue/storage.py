"""Storage family: S3 buckets.

S3 lists every bucket of the account from one region, so the type is global (shard
scope ``global``); each bucket's real region comes from ``get_bucket_location`` and
its settings are asked there. Several settings answer "not configured" with an
error code: that is a value (none), not a failure.
"""

from __future__ import annotations

from typing import Any

from elava.catalogue.registry import register
from elava.catalogue.trail import family, ids
from elava.catalogue.types import DetailCall, Lookup, ResourceType
from elava.catalogue.usage import Usage

S3 = "s3.amazonaws.com"

# get_bucket_location answers null for us-east-1 and "EU" for the oldest eu-west-1 buckets.
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def bucket_region(location: str | None) -> str:
    return _LEGACY_LOCATIONS.get(location, location)  # type: ignore[arg-type]


def _encryption(rules: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if not rules:
        return None
    rule = rules[0]  # S3 allows exactly one default-encryption rule
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    return {
        "algorithm": default.get("SSEAlgorithm"),
        "kms_key_id": default.get("KMSMasterKeyID"),
        "bucket_key_enabled": bool(rule.get("BucketKeyEnabled", False)),
    }


def _public_access_block(config: dict[str, Any] | None) -> dict[str, bool] | None:
    if config is None:
        return None
    return {
        "block_public_acls": bool(config.get("BlockPublicAcls", False)),
        "ignore_public_acls": bool(config.get("IgnorePublicAcls", False)),
        "block_public_policy": bool(config.get("BlockPublicPolicy", False)),
        "restrict_public_buckets": bool(config.get("RestrictPublicBuckets", False)),
    }


def normalise_bucket(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    versioning = raw.get("Versioning") or {}
    return {
        **attributes,
        "versioning": versioning.get("Status") or "Disabled",  # never enabled: no Status
        "mfa_delete": versioning.get("MFADelete") or "Disabled",
        "encryption": _encryption(raw.get("Encryption")),
        "public_access_block": _public_access_block(raw.get("PublicAccessBlock")),
    }


def _bucket_detail(operation: str, store_as: str, **kwargs: Any) -> DetailCall:
    return DetailCall(operation=operation, params={"Bucket": "Name"}, store_as=store_as, **kwargs)


S3_BUCKET = register(
    ResourceType(
        name="s3.bucket",
        service="s3",
        list_operation="list_buckets",
        # AWS supports unpaged ListBuckets only up to the default 10,000-bucket quota.
        list_params={"MaxBuckets": 1000},
        result_path="Buckets",
        id_field="Name",
        # ListBuckets by prefix (its CreationDate is in no other call); the exact name is kept.
        lookup=Lookup("Prefix", as_list=False, params={"MaxBuckets": 1000}, gone_errors=frozenset({"NoSuchBucket"})),
        name_field="Name",
        arn_template="arn:{partition}:s3:::{id}",
        global_service=True,
        region_detail=_bucket_detail(
            "get_bucket_location", "Region", result_path="LocationConstraint", convert=bucket_region
        ),
        tags_from="detail:TagSet",
        details=(
            _bucket_detail("get_bucket_tagging", "TagSet", result_path="TagSet",
                           none_errors=frozenset({"NoSuchTagSet"}), default=[]),
            _bucket_detail("get_bucket_encryption", "Encryption",
                           result_path="ServerSideEncryptionConfiguration.Rules",
                           none_errors=frozenset({"ServerSideEncryptionConfigurationNotFoundError"})),
            _bucket_detail("get_bucket_versioning", "Versioning"),
            _bucket_detail("get_public_access_block", "PublicAccessBlock",
                           result_path="PublicAccessBlockConfiguration",
                           none_errors=frozenset({"NoSuchPublicAccessBlockConfiguration"})),
            # One object version or delete marker at most: whether the bucket is empty (waste),
            # not how full it is, so writing objects makes no new version.
            _bucket_detail("list_object_versions", "ObjectSample", static_params={"MaxKeys": 1}),
        ),
        attributes={"creation_date": "CreationDate", "region": "Region",
                    "empty": "!(ObjectSample.Versions || ObjectSample.DeleteMarkers)"},
        usage=Usage(units={"buckets": "`1`"}, created="attributes.creation_date"),
        transform=normalise_bucket,
        trail=(
            family("S3 buckets", S3, "CreateBucket PutBucket* DeleteBucket*", ids("request.bucketName"),
                   where="requestParameters.bucketName"),
        ),
    )
)
