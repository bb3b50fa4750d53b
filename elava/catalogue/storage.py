"""Storage family: S3 buckets.

S3 lists every bucket of the account from one region, so the type is global (shard
scope ``global``); each bucket's real region comes from ``get_bucket_location`` and
its settings are asked there. Several settings answer "not configured" with an
error code: that is a value (none), not a failure.

Exposure is AWS's own rule: a bucket is public when its ACL grants anything to
everyone (``AllUsers``) or to every AWS account (``AuthenticatedUsers``) and no public
access block ignores public ACLs, or when S3 calls its bucket policy public
(``GetBucketPolicyStatus``) and no block restricts public buckets. A block counts
whether the bucket or the account sets it (s3control ``GetPublicAccessBlock``, asked
once per account). A bucket without any block is *not* public for that alone.
"""

from __future__ import annotations

from typing import Any

from elava.catalogue.registry import register
from elava.catalogue.relations import uses
from elava.catalogue.trail import family, ids
from elava.catalogue.types import ACCOUNT, DetailCall, Lookup, ResourceType
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


# ACL grantees that mean "anyone": everyone on the internet, or anyone with an AWS account.
PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}


def public_grants(grants: list[dict[str, Any]] | None) -> list[str]:
    """``["AllUsers:READ"]``: what the ACL gives to anyone."""
    found = {f"{PUBLIC_GRANTEES[uri]}:{grant.get('Permission')}" for grant in grants or []
             if (uri := (grant.get("Grantee") or {}).get("URI")) in PUBLIC_GRANTEES}
    return sorted(found)


def _blocked(setting: str, *blocks: dict[str, bool] | None) -> bool:
    return any(block is not None and block.get(setting) for block in blocks)


def exposure(acl_grants: list[str], policy_public: bool, bucket_block: dict[str, bool] | None,
             account_block: dict[str, bool] | None) -> list[str]:
    """What makes the bucket public now (``acl``, ``policy``), once the blocks have had their say."""
    via = []
    if acl_grants and not _blocked("ignore_public_acls", bucket_block, account_block):
        via.append("acl")
    if policy_public and not _blocked("restrict_public_buckets", bucket_block, account_block):
        via.append("policy")
    return via


def normalise_bucket(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    versioning = raw.get("Versioning") or {}
    bucket_block = _public_access_block(raw.get("PublicAccessBlock"))
    account_block = _public_access_block(raw.get("AccountPublicAccessBlock"))
    grants = public_grants(raw.get("Acl"))
    policy_public = raw.get("PolicyPublic") is True
    via = exposure(grants, policy_public, bucket_block, account_block)
    return {
        **attributes,
        "versioning": versioning.get("Status") or "Disabled",  # never enabled: no Status
        "mfa_delete": versioning.get("MFADelete") or "Disabled",
        "encryption": _encryption(raw.get("Encryption")),
        "public_access_block": bucket_block,
        "account_public_access_block": account_block,
        "acl_public_grants": grants,
        "policy_public": policy_public,
        "public": bool(via),
        "public_via": via,
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
        listed_region="BucketRegion",  # ListBuckets says it since late 2024 (moto does not yet)
        tags_from="detail:TagSet",
        bulk_tags="s3",  # buckets (tagging API's filter for S3 buckets)
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
            _bucket_detail("get_bucket_acl", "Acl", result_path="Grants"),
            # No bucket policy: nothing public through one.
            _bucket_detail("get_bucket_policy_status", "PolicyPublic", result_path="PolicyStatus.IsPublic",
                           none_errors=frozenset({"NoSuchBucketPolicy"}), default=False),
        ),
        account_details=(
            DetailCall("get_public_access_block", {"AccountId": ACCOUNT}, "AccountPublicAccessBlock",
                       result_path="PublicAccessBlockConfiguration", service="s3control",
                       none_errors=frozenset({"NoSuchPublicAccessBlockConfiguration"})),
        ),
        attributes={"creation_date": "CreationDate", "region": "Region",
                    "empty": "!(ObjectSample.Versions || ObjectSample.DeleteMarkers)"},
        usage=Usage(units={"buckets": "`1`"}, created="attributes.creation_date"),
        churn={"empty": "objects are written and deleted through the data plane, not the bucket's configuration "
                        "(the waste rules read it)"},
        transform=normalise_bucket,
        edges=(
            uses("kms-key", "kms.key", "encryption.kms_key_id"),
        ),
        trail=(
            family("S3 buckets", S3, "CreateBucket PutBucket* DeleteBucket*", ids("request.bucketName"),
                   where="requestParameters.bucketName"),
        ),
    )
)
