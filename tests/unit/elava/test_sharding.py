"""Shard keys split back into their scope and bucket, and move to another bucket count."""

import pytest

from elava.sharding import bucket_of, rebucket, shard_of, split_shard

UID = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"


def test_a_shard_splits_into_scope_and_bucket():
    assert split_shard("123456789012/us-east-1/dynamodb.table/7") == ("123456789012/us-east-1/dynamodb.table", 7)


@pytest.mark.parametrize("text", ["no-slash", "a/b/c/", "a/b/c/x", "/3"])
def test_what_is_not_a_shard_key_is_refused(text):
    with pytest.raises(ValueError, match="not a shard key"):
        split_shard(text)


def test_rebucket_gives_the_shard_the_other_layout_computes():
    old = shard_of(UID, "123456789012", "us-east-1", "dynamodb.table", 16)
    assert rebucket(old, UID, 10) == shard_of(UID, "123456789012", "us-east-1", "dynamodb.table", 10)
    assert split_shard(rebucket(old, UID, 10))[1] == bucket_of(UID, 10)
