"""Identity family: IAM roles and Route 53 zones (global), KMS keys, ECR repositories."""

from __future__ import annotations

import json

from elava.catalogue import registry
from elava.catalogue.identity import allowed_principals, not_customer_managed
from elava.sharding import GLOBAL_REGION
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"
PARTNER = "arn:aws:iam::999999999999:root"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": [PARTNER]}, "Action": "sts:AssumeRole"}]}
S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


@covers("iam.role")
async def test_iam_roles_are_scanned_once_per_account_with_trust_and_policies(scan, boto):
    iam = boto("iam")
    arn = iam.create_role(RoleName="deployer", Path="/ci/", AssumeRolePolicyDocument=json.dumps(TRUST),
                          Tags=[{"Key": "team", "Value": "platform"}])["Role"]["Arn"]
    managed = iam.create_policy(PolicyName="deploy", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="deployer", PolicyArn=managed)
    iam.put_role_policy(RoleName="deployer", PolicyName="read", PolicyDocument=json.dumps(S3_READ))
    for i in range(3):
        iam.create_role(RoleName=f"app-{i}", AssumeRolePolicyDocument=json.dumps(TRUST))

    run = await scan([registry.get("iam.role")], regions=["us-east-1", "eu-west-1"])

    roles = {r.id: r for r in run.resources("iam.role")}
    assert set(roles) == {"deployer", "app-0", "app-1", "app-2"}  # once, though two regions are scanned
    role = roles["deployer"]
    assert role.uid == arn == f"arn:aws:iam::{ACCOUNT}:role/ci/deployer"
    assert (role.type, role.name, role.region, role.tags) == ("iam.role", "deployer", GLOBAL_REGION,
                                                              {"team": "platform"})
    attributes = role.attributes
    assert attributes["trusted_principals"] == [f"AWS:{PARTNER}", "Service:ec2.amazonaws.com"]
    assert attributes["trust_policy"] == TRUST
    assert (attributes["managed_policies"], attributes["inline_policies"]) == ([managed], {"read": S3_READ})
    assert (attributes["path"], attributes["created"][-6:]) == ("/ci/", "+00:00")
    assert list(run.report.results) == [(GLOBAL_REGION, "iam.role")]
    assert run.report.calls_by_type() == {"iam.role": 1}  # one page carries every role with its details


@covers("kms.key")
async def test_customer_managed_kms_keys(scan, boto):
    kms = boto("kms")
    key = kms.create_key(Description="orders data", Tags=[{"TagKey": "team", "TagValue": "orders"}])["KeyMetadata"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key["KeyId"])
    kms.enable_key_rotation(KeyId=key["KeyId"])
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]

    run = await scan([registry.get("kms.key")])

    keys = {r.id: r for r in run.resources("kms.key")}
    assert set(keys) == {key["KeyId"], signing}
    orders = keys[key["KeyId"]]
    assert orders.uid == key["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key['KeyId']}"
    assert (orders.type, orders.name, orders.tags) == ("kms.key", "alias/orders", {"team": "orders"})
    attributes = orders.attributes
    assert (attributes["state"], attributes["enabled"], attributes["rotation_enabled"]) == ("Enabled", True, True)
    assert (attributes["description"], attributes["aliases"], attributes["key_spec"]) == (
        "orders data", ["alias/orders"], "SYMMETRIC_DEFAULT")
    assert keys[signing].attributes["key_usage"] == "SIGN_VERIFY"
    # list; per key: describe, tags, aliases, rotation
    assert run.report.calls_by_type() == {"kms.key": 1 + 2 * 3}  # tags in bulk (shared_calls)
    # moto marks the keys it makes for aws/* aliases CUSTOMER too, so the skipping of
    # AWS-managed keys is checked on describe_key's answer as AWS gives it:
    assert not_customer_managed({"Key": {"KeyManager": "AWS"}})
    assert not not_customer_managed({"Key": {"KeyManager": "CUSTOMER"}})


@covers("ecr.repository")
async def test_ecr_repository(scan, boto):
    ecr = boto("ecr")
    arn = ecr.create_repository(repositoryName="shop/api", imageTagMutability="IMMUTABLE",
                                imageScanningConfiguration={"scanOnPush": True},
                                tags=[{"Key": "team", "Value": "shop"}])["repository"]["repositoryArn"]
    ecr.put_lifecycle_policy(repositoryName="shop/api", lifecyclePolicyText=json.dumps({"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                                         "countNumber": 5}, "action": {"type": "expire"}}]}))
    ecr.set_repository_policy(repositoryName="shop/api", policyText=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "pull", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}]}))
    ecr.create_repository(repositoryName="scratch")
    ecr.put_image(repositoryName="shop/api", imageTag="v1", imageManifest=json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}))

    run = await scan([registry.get("ecr.repository")])

    repositories = {r.id: r for r in run.resources("ecr.repository")}
    shop = repositories["shop/api"]
    assert shop.uid == arn == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/shop/api"
    assert (shop.type, shop.name, shop.tags) == ("ecr.repository", "shop/api", {"team": "shop"})
    attributes = shop.attributes
    assert (attributes["tag_mutability"], attributes["scan_on_push"], attributes["lifecycle_policy"]) == (
        "IMMUTABLE", True, True)
    assert (attributes["public"], attributes["policy_principals"]) == (True, ["*"])
    assert attributes["uri"].endswith("/shop/api") and attributes["created"].endswith("+00:00")
    scratch = repositories["scratch"].attributes
    assert (scratch["lifecycle_policy"], scratch["public"]) == (False, False)
    assert (attributes["empty"], scratch["empty"]) == (False, True)  # the empty-repository rule reads it
    # list; per repository: tags, lifecycle policy, repository policy, one image id
    assert run.report.calls_by_type() == {"ecr.repository": 1 + 2 * 4}


@covers("route53.hosted-zone")
async def test_route53_zones_are_global_with_batched_tags(scan, boto):
    route53 = boto("route53")
    zones = {}
    for i in range(12):  # two list_tags_for_resources calls (10 zones each)
        zone = route53.create_hosted_zone(Name=f"zone{i:02}.example.com", CallerReference=str(i))["HostedZone"]
        zones[zone["Name"]] = zone["Id"].split("/")[-1]
    route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zones["zone00.example.com."],
                                     AddTags=[{"Key": "team", "Value": "dns"}])

    run = await scan([registry.get("route53.hosted-zone")], regions=["us-east-1", "eu-west-1"])

    resources = {r.name: r for r in run.resources("route53.hosted-zone")}
    assert len(resources) == 12
    zone = resources["zone00.example.com."]
    assert zone.id == zones["zone00.example.com."] and not zone.id.startswith("/")
    assert zone.uid == f"arn:aws:route53:::hostedzone/{zone.id}"
    assert (zone.type, zone.region, zone.tags) == ("route53.hosted-zone", GLOBAL_REGION, {"team": "dns"})
    assert (zone.attributes["private"], zone.attributes["record_count"]) == (False, 2)  # SOA and NS
    assert resources["zone01.example.com."].tags == {}
    assert run.report.calls_by_type() == {"route53.hosted-zone": 1 + 2}


def test_allowed_principals_summarise_any_policy_shape():
    text = json.dumps({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*", "Federated": "cognito"}}})
    assert allowed_principals(text) == ["*", "Federated:cognito"]
    assert allowed_principals({"Statement": [{"Effect": "Deny", "Principal": "*"}]}) == []
    assert allowed_principals(None) == []
