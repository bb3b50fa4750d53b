"""s3.bucket: a global listing, each bucket's own region, settings that may be "none"."""

from __future__ import annotations

from elava.catalogue import registry
from elava.sharding import GLOBAL_REGION, all_shards
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"


def _configured_bucket(s3, name: str) -> None:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "owner", "Value": "data"},
                                                            {"Key": "Name", "Value": "Lake"}]})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/data"},
        "BucketKeyEnabled": True}]})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False})


@covers("s3.bucket")
async def test_buckets_are_scanned_once_per_account_in_their_own_region(scan, boto):
    s3 = boto("s3")
    s3.create_bucket(Bucket="plain-bucket")
    _configured_bucket(s3, "lake-bucket")
    s3.put_object(Bucket="lake-bucket", Key="raw/day-1.json", Body=b"{}")

    run = await scan([registry.get("s3.bucket")], regions=["us-east-1", "eu-west-1"], buckets=3)

    buckets = {r.id: r for r in run.resources("s3.bucket")}
    assert set(buckets) == {"plain-bucket", "lake-bucket"}  # once, though two regions are scanned
    lake = buckets["lake-bucket"]
    assert lake.uid == "arn:aws:s3:::lake-bucket"
    assert (lake.type, lake.account, lake.region, lake.name) == ("s3.bucket", ACCOUNT, "eu-west-1", "lake-bucket")
    assert lake.tags == {"owner": "data", "Name": "Lake"}
    assert lake.attributes["versioning"] == "Enabled"
    assert lake.attributes["encryption"] == {
        "algorithm": "aws:kms", "kms_key_id": "alias/data", "bucket_key_enabled": True}
    assert lake.attributes["public_access_block"] == {
        "block_public_acls": True, "ignore_public_acls": True, "block_public_policy": True,
        "restrict_public_buckets": False}
    assert buckets["plain-bucket"].region == "us-east-1"
    assert (lake.attributes["empty"], buckets["plain-bucket"].attributes["empty"]) == (False, True)
    # The shard scope is the listing's: global, whatever the bucket's region.
    assert {obs.region for obs in run.sink.observations} == {GLOBAL_REGION}
    assert [m.shard for m in run.markers("s3.bucket")] == all_shards(ACCOUNT, GLOBAL_REGION, "s3.bucket", 3)
    assert list(run.report.results) == [(GLOBAL_REGION, "s3.bucket")]


async def test_settings_never_configured_are_none_not_errors(scan, boto):
    boto("s3").create_bucket(Bucket="bare-bucket")  # no tags, encryption rule, versioning, PAB

    run = await scan([registry.get("s3.bucket")])

    [bucket] = run.resources("s3.bucket")
    assert bucket.tags == {}
    assert bucket.attributes["versioning"] == "Disabled"
    assert bucket.attributes["encryption"] is None
    assert bucket.attributes["public_access_block"] is None
    assert bucket.attributes["creation_date"].endswith("+00:00")
    assert not run.report.partial


async def test_a_detail_call_denied_fails_the_bucket_scan(scan, boto, faults):
    boto("s3").create_bucket(Bucket="guarded-bucket")
    faults.fail("before-call.s3.GetBucketEncryption", "AccessDenied")

    run = await scan([registry.get("s3.bucket")], buckets=2)

    # Publishing the bucket without its encryption would be a wrong version: fail instead.
    assert run.resources("s3.bucket") == []
    markers = run.markers("s3.bucket")
    assert len(markers) == 2
    assert {(m.status, m.error_class, m.count, tuple(m.ids)) for m in markers} == {
        ("failed", "access-denied", 0, ())}
    assert run.report.partial
