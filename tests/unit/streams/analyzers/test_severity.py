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


def test_judging_by_the_paths_rules_read_judges_as_asking_every_rule():
    """``judge`` asks a rule only about paths it declares it reads: for every declared attribute,
    the rules' own paths and what is under them, it judges as asking every rule in order does."""
    from elava.catalogue import registry
    from streams.analyzers.severity import RULES, judge

    def asking_every_rule(change):
        return next((found for rule, _ in RULES if (found := rule(change)) is not None), ("low", "changed"))

    paths = {f"attributes.{name}" for declared in registry.all_types() for name in declared.attributes}
    paths |= {prefix for _, reads in RULES for prefix in reads}
    paths |= {f"{path}.{leaf}" for path in list(paths) for leaf in ("inner", "block_public_acls")}
    paths |= {"tags.owner", "tags.team", "tags.cost-center", "tags.Name", "attributes", "tags"}
    values = [None, True, False, "*", "internet-facing", "NONE", "0.0.0.0/0", "::/0", "", 0, SSH_WORLD,
              {**SSH_WORLD, "cidr": "10.0.0.0/8"}, {"protocol": "-1", "cidr": "0.0.0.0/0"}, {"a": 1}, ["x"],
              {"protocol": "tcp", "cidr": {"odd": 1}}]
    fired = set()
    for path in sorted(paths):
        for op in ("add", "remove", "replace"):
            for old in values:
                for new in values:
                    change = fc(path, op, old=old, new=new)
                    judged = judge(change)
                    assert judged == asking_every_rule(change), (path, op, old, new)
                    fired.add(judged[1])
    assert fired == {"world-open-admin-port", "world-open", "public-access", "encryption-off", "iam-trust",
                     "iam-permissions", "ownership-tag-removed", "changed"}
