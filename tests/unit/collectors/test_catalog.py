"""docs/resource-types.md is generated from the registry and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from collectors.aws.catalog import BEGIN, END, iam_action, policy, render, splice
from elava.catalogue import registry

DOC = Path(__file__).resolve().parents[3] / "docs" / "resource-types.md"


def test_the_doc_lists_every_type_and_is_up_to_date():
    document = DOC.read_text()

    for rt in registry.all_types():
        assert f"| `{rt.name}` |" in document, f"{rt.name} is missing from {DOC.name}"
    block = document[document.index(BEGIN):document.index(END) + len(END)]
    assert block == render(), "stale: run python -m collectors.aws.catalog --write docs/resource-types.md"


def test_iam_actions_follow_iam_names_not_only_api_names():
    assert iam_action("elbv2", "describe_tags") == "elasticloadbalancing:DescribeTags"
    assert iam_action("rds", "describe_db_instances") == "rds:DescribeDBInstances"
    assert iam_action("s3", "list_buckets") == "s3:ListAllMyBuckets"
    assert iam_action("s3", "get_bucket_encryption") == "s3:GetEncryptionConfiguration"
    assert iam_action("s3", "get_public_access_block") == "s3:GetBucketPublicAccessBlock"
    assert iam_action("s3control", "get_public_access_block") == "s3:GetAccountPublicAccessBlock"
    assert iam_action("ecr", "describe_repositories") == "ecr:DescribeRepositories"


def test_the_policy_grants_what_every_type_calls():
    [statement] = policy(registry.all_types())["Statement"]
    actions = set(statement["Action"])

    assert {"ec2:DescribeInstanceAttribute", "dynamodb:ListTagsOfResource", "eks:DescribeNodegroup",
            "ecs:DescribeServices", "iam:GetAccountAuthorizationDetails", "kms:ListResourceTags",
            "route53:ListTagsForResources", "lambda:ListTags", "cloudtrail:LookupEvents"} <= actions
    assert all(not action.endswith("*") for action in actions)  # least privilege: no wildcards


def test_splice_replaces_only_the_generated_block():
    document = f"intro\n\n{BEGIN}\nold\n{END}\n\noutro\n"
    assert splice(document, f"{BEGIN}\nnew\n{END}") == f"intro\n\n{BEGIN}\nnew\n{END}\n\noutro\n"
    assert splice("intro\n", "BLOCK") == "intro\n\nBLOCK\n"
