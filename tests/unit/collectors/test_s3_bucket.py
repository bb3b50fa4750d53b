"""s3.bucket: a global listing, each bucket's own region, settings that may be "none"."""

from __future__ import annotations

from collectors.aws.calls import for_local_endpoint
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


def _account_block(boto, **settings: bool) -> None:
    control = for_local_endpoint("s3control", boto("s3control"))
    control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={
        name: settings.get(name, False)
        for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})


async def test_only_really_public_buckets_are_public(scan, boto):
    s3 = boto("s3")
    s3.create_bucket(Bucket="private-no-block")  # no block at all, but nothing grants anyone anything
    s3.create_bucket(Bucket="public-site")
    s3.put_bucket_acl(Bucket="public-site", ACL="public-read")
    s3.create_bucket(Bucket="any-aws-account")
    s3.put_bucket_acl(Bucket="any-aws-account", ACL="authenticated-read")

    run = await scan([registry.get("s3.bucket")])

    buckets = {r.id: r.attributes for r in run.resources("s3.bucket")}
    private = buckets["private-no-block"]
    assert (private["public"], private["public_via"], private["acl_public_grants"]) == (False, [], [])
    assert (private["public_access_block"], private["account_public_access_block"]) == (None, None)
    assert (buckets["public-site"]["public"], buckets["public-site"]["public_via"]) == (True, ["acl"])
    assert buckets["public-site"]["acl_public_grants"] == ["AllUsers:READ"]
    assert buckets["any-aws-account"]["acl_public_grants"] == ["AuthenticatedUsers:READ"]
    assert buckets["any-aws-account"]["public"] is True
    assert private["policy_public"] is False  # no bucket policy
    # Per bucket: location, tags, encryption, versioning, its block, emptiness, ACL, policy status;
    # the account's block once for the account.
    assert run.report.calls_by_type() == {"s3.bucket": 1 + 3 * 7 + 1}  # tags in bulk (shared_calls)


async def test_the_account_block_is_read_once_and_neutralises_public_acls(scan, boto):
    s3 = boto("s3")
    for name in ("public-site", "other-site"):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_acl(Bucket=name, ACL="public-read")
    _account_block(boto, BlockPublicAcls=True, IgnorePublicAcls=True)

    run = await scan([registry.get("s3.bucket")])

    site = next(r.attributes for r in run.resources("s3.bucket") if r.id == "public-site")
    assert site["acl_public_grants"] == ["AllUsers:READ"]  # still granted, but ignored by the account's block
    assert (site["public"], site["public_via"]) == (False, [])
    assert site["account_public_access_block"] == {"block_public_acls": True, "ignore_public_acls": True,
                                                   "block_public_policy": False, "restrict_public_buckets": False}
    assert run.report.calls_by_type() == {"s3.bucket": 1 + 2 * 7 + 1}


async def test_an_account_block_that_cannot_be_read_fails_the_scan(scan, boto, faults):
    boto("s3").create_bucket(Bucket="some-bucket")
    faults.fail("before-call.s3-control.GetPublicAccessBlock", "AccessDenied")

    run = await scan([registry.get("s3.bucket")], buckets=1)

    # Without the account's block, "public" could be wrong either way: no version rather than a wrong one.
    assert run.resources("s3.bucket") == []
    assert [(m.status, m.error_class) for m in run.markers("s3.bucket")] == [("failed", "access-denied")]


async def test_a_listing_that_says_each_buckets_region_spares_the_location_calls(scan, boto, session):
    """AWS's ListBuckets gives ``BucketRegion`` (since late 2024); moto does not yet, so the answer is
    completed the way AWS gives it, by a botocore hook on the parsed response."""
    s3 = boto("s3")
    s3.create_bucket(Bucket="here-bucket")
    s3.create_bucket(Bucket="there-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    regions = {"here-bucket": "us-east-1", "there-bucket": "eu-west-1"}

    def with_region(parsed, **_):
        for bucket in parsed.get("Buckets", []):
            bucket["BucketRegion"] = regions[bucket["Name"]]

    session.events.register("after-call.s3.ListBuckets", with_region)
    located = await scan([registry.get("s3.bucket")])

    assert {r.id: r.region for r in located.resources("s3.bucket")} == regions
    assert located.report.calls_by_type() == {"s3.bucket": 1 + 2 * 6 + 1}  # no GetBucketLocation
