"""Severity comes from rules, each named on the drift: exposure, public access, encryption, IAM trust."""

import pytest

from streams.analyzers.drift import drift_for
from tests.unit.streams.analyzers.drift_cases import SSH_WORLD, fc, modified

HTTPS_WORLD = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "0.0.0.0/0"}


@pytest.mark.parametrize(("type_name", "change", "severity", "rule"), [
    ("ec2.security-group", fc("attributes.ingress", "add", new=SSH_WORLD), "critical", "world-open-admin-port"),
    ("ec2.security-group", fc("attributes.ingress", "add", new=HTTPS_WORLD), "high", "world-open"),
    ("eks.cluster", fc("attributes.public_access_cidrs", "add", new="0.0.0.0/0"), "high", "world-open"),
    ("s3.bucket", fc("attributes.public_access_block.block_public_policy", old=True, new=False), "high",
     "public-access"),
    ("s3.bucket", fc("attributes.public_access_block", old={"block_public_acls": True}, new=None), "high",
     "public-access"),
    ("rds.instance", fc("attributes.publicly_accessible", old=False, new=True), "high", "public-access"),
    ("eks.cluster", fc("attributes.endpoint_public_access", old=False, new=True), "high", "public-access"),
    ("lambda.function", fc("attributes.url_auth_type", old="AWS_IAM", new="NONE"), "high", "public-access"),
    ("ecr.repository", fc("attributes.policy_principals", "add", new="*"), "high", "public-access"),
    ("ec2.image", fc("attributes.public", old=False, new=True), "high", "public-access"),
    ("s3.bucket", fc("attributes.encryption", old={"algorithm": "aws:kms"}, new=None), "high", "encryption-off"),
    ("rds.cluster", fc("attributes.storage_encrypted", old=True, new=False), "high", "encryption-off"),
    ("elasticache.cluster", fc("attributes.transit_encryption", old=True, new=False), "high", "encryption-off"),
    ("iam.role", fc("attributes.trusted_principals", "add", new="AWS:arn:aws:iam::999999999999:root"), "high",
     "iam-trust"),
    ("iam.role", fc("attributes.trust_policy.Statement", old=[], new=[{"Effect": "Allow"}]), "high", "iam-trust"),
    ("iam.role", fc("attributes.managed_policies", "add", new="arn:aws:iam::aws:policy/AdministratorAccess"),
     "medium", "iam-permissions"),
    ("ec2.instance", fc("tags.owner", "remove", old="alice"), "medium", "ownership-tag-removed"),
    ("ec2.instance", fc("attributes.instance_type", old="t3.micro", new="t3.large"), "low", "changed"),
])
def test_each_rule_sets_its_severity_and_is_named(type_name, change, severity, rule):
    drift = drift_for(modified(type_name, change))
    assert (drift.severity, drift.rules, drift.out_of_band) == (severity, [rule], False)


@pytest.mark.parametrize(("type_name", "change"), [
    ("s3.bucket", fc("attributes.public_access_block.block_public_policy", old=False, new=True)),  # tightened
    ("s3.bucket", fc("attributes.encryption", old=None, new={"algorithm": "AES256"})),  # turned on
    ("rds.instance", fc("attributes.publicly_accessible", old=True, new=False)),
    ("ecr.repository", fc("attributes.policy_principals", "remove", old="*")),
    ("ec2.security-group", fc("attributes.ingress", "remove", old=SSH_WORLD)),  # closed
])
def test_closing_an_exposure_is_not_judged_as_opening_one(type_name, change):
    assert drift_for(modified(type_name, change)).severity == "low"


def test_the_worst_rule_sets_the_severity_and_every_rule_is_listed():
    drift = drift_for(modified("s3.bucket", fc("tags.owner", "remove", old="alice"),
                               fc("attributes.encryption", old={"algorithm": "aws:kms"}, new=None)))
    assert (drift.severity, drift.rules) == ("high", ["encryption-off", "ownership-tag-removed"])
