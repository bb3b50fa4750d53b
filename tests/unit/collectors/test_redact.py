"""Secrets never leave a collector: redaction by key name and by declared path."""

from __future__ import annotations

import hashlib

import pytest

from collectors.redact import REDACTED_PREFIX, is_sensitive_key, redact_resource, redact_tree, redact_value
from elava.events import Resource


@pytest.mark.parametrize("key", [
    "password", "DB_PASSWORD", "MasterUserPassword", "client_secret", "SecretString", "SessionToken",
    "auth-token", "Credentials", "private_key", "PrivateKey", "X-Api-Key", "apikey", "UserData",
    "user_data", "SecretAccessKey", "connectionString", "password_value",
])
def test_keys_that_name_a_secret_are_sensitive(key):
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", [
    "secret_arn", "SecretArn", "KmsKeyId", "AccessKeyId", "PasswordLastUsed", "password_enabled",
    "HttpTokens", "metadata_http_tokens", "instance_type", "tokens_used", "description",
])
def test_keys_that_only_refer_to_or_describe_a_secret_are_kept(key):
    assert not is_sensitive_key(key)


def test_redacted_values_keep_a_change_visible_but_not_the_value():
    first, second = redact_value("s3cret"), redact_value("s3cret-2")
    assert first == REDACTED_PREFIX + hashlib.sha256(b"s3cret").hexdigest()[:16]
    assert first != second
    assert redact_value(first) == first  # redacting twice changes nothing
    assert redact_value({"a": 1}) == redact_value({"a": 1}) != redact_value({"a": 2})


def test_declared_secret_paths_are_redacted_at_any_depth_and_in_lists():
    attributes = {
        "environment": {"variables": {"LOG_LEVEL": "debug", "DSN": "postgres://u:p@db/x"}},
        "containers": [{"name": "app", "environment": {"A": "1"}}],
        "user_data": None,
        "tags_count": 2,
    }

    redacted = redact_tree(attributes, ["environment.variables.*", "containers.environment"])

    assert redacted["environment"]["variables"]["LOG_LEVEL"].startswith(REDACTED_PREFIX)
    assert redacted["environment"]["variables"]["DSN"].startswith(REDACTED_PREFIX)
    assert redacted["containers"][0]["name"] == "app"
    assert redacted["containers"][0]["environment"].startswith(REDACTED_PREFIX)
    assert redacted["user_data"] is None  # no value is not a secret
    assert redacted["tags_count"] == 2
    assert attributes["environment"]["variables"]["DSN"] == "postgres://u:p@db/x"  # input untouched


def test_resources_lose_their_secrets_in_attributes_and_tags():
    resource = Resource(uid="arn:x", type="ec2.instance", id="i-1", account="1", region="r",
                        tags={"team": "ops", "db_password": "hunter2"},
                        attributes={"user_data": "c2VjcmV0", "config": {"api_key": "k-123"}})

    clean = redact_resource(resource, ["user_data"])

    text = clean.model_dump_json()
    assert "hunter2" not in text and "c2VjcmV0" not in text and "k-123" not in text
    assert clean.tags["team"] == "ops"
    assert clean.content_hash() != redact_resource(
        resource.model_copy(update={"tags": {**resource.tags, "db_password": "rotated"}}), ["user_data"]
    ).content_hash()
