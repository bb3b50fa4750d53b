"""Secrets never leave a collector: redaction by key name and by declared path."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from collectors.redact import Redactor, is_sensitive_key
from elava.events import Resource
from elava.redaction import PREFIX

KEY = b"unit-test-redaction-key-0123456789abcdef"
REDACTOR = Redactor(KEY)


@pytest.mark.parametrize("key", [
    "password", "DB_PASSWORD", "MasterUserPassword", "client_secret", "SecretString", "SessionToken",
    "auth-token", "Credentials", "private_key", "PrivateKey", "X-Api-Key", "apikey", "UserData",
    "user_data", "SecretAccessKey", "connectionString", "password_value", "PIN", "card_pin", "PinCode", "passcode",
])
def test_keys_that_name_a_secret_are_sensitive(key):
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", [
    "secret_arn", "SecretArn", "KmsKeyId", "AccessKeyId", "PasswordLastUsed", "password_enabled",
    "HttpTokens", "metadata_http_tokens", "instance_type", "tokens_used", "description", "spin_count",
    "PinnedVersion",
])
def test_keys_that_only_refer_to_or_describe_a_secret_are_kept(key):
    assert not is_sensitive_key(key)


def test_the_same_key_gives_the_same_digest_and_a_changed_secret_a_changed_one():
    first = REDACTOR.value("s3cret")
    assert first == Redactor(KEY).value("s3cret") != REDACTOR.value("s3cret-2")
    # Plain HMAC-SHA256 (hex, first 32 digits): whoever holds the key can check a digest.
    assert first == f"redacted:hmac-sha256:{REDACTOR.key_id}:" + hmac.new(KEY, b"s3cret", "sha256").hexdigest()[:32]
    assert REDACTOR.value(first) == first  # redacting twice changes nothing
    assert REDACTOR.value({"a": 1}) == REDACTOR.value({"a": 1}) != REDACTOR.value({"a": 2})


def test_another_key_gives_other_digests_and_another_key_id():
    other = Redactor(b"another-installation-key-0123456789")
    assert other.key_id != REDACTOR.key_id
    digest = lambda redactor: redactor.value("s3cret").rsplit(":", 1)[1]  # noqa: E731
    assert digest(other) != digest(REDACTOR)  # the digest itself, not only the key id
    assert other.value(REDACTOR.value("s3cret")) != REDACTOR.value("s3cret")  # not taken for its own


@pytest.mark.parametrize("secret", ["4711", "hunter2", "TagSecret456"])
def test_no_unkeyed_digest_of_the_secret_appears(secret):
    """A guess cannot be checked offline: nothing of sha256(secret) is published."""
    redacted = REDACTOR.value(secret)
    plain = hashlib.sha256(secret.encode()).hexdigest()
    assert not any(plain[i:i + 8] in redacted for i in range(len(plain) - 7))
    assert secret not in redacted and "sha256:" + plain[:16] not in redacted


def test_the_key_is_never_shown():
    assert KEY.decode() not in repr(REDACTOR) and REDACTOR.key_id in repr(REDACTOR)


def test_declared_secret_paths_are_redacted_at_any_depth_and_in_lists():
    attributes = {
        "environment": {"variables": {"LOG_LEVEL": "debug", "DSN": "postgres://u:p@db/x"}},
        "containers": [{"name": "app", "environment": {"A": "1"}}],
        "user_data": None,
        "tags_count": 2,
    }

    redacted = REDACTOR.tree(attributes, ["environment.variables.*", "containers.environment"])

    assert redacted["environment"]["variables"]["LOG_LEVEL"].startswith(PREFIX)
    assert redacted["environment"]["variables"]["DSN"].startswith(PREFIX)
    assert redacted["containers"][0]["name"] == "app"
    assert redacted["containers"][0]["environment"].startswith(PREFIX)
    assert redacted["user_data"] is None  # no value is not a secret
    assert redacted["tags_count"] == 2
    assert attributes["environment"]["variables"]["DSN"] == "postgres://u:p@db/x"  # input untouched


def test_resources_lose_their_secrets_in_attributes_and_tags():
    resource = Resource(uid="arn:x", type="ec2.instance", id="i-1", account="1", region="r",
                        tags={"team": "ops", "db_password": "hunter2"},
                        attributes={"user_data": "c2VjcmV0", "config": {"api_key": "k-123"}})

    clean = REDACTOR.resource(resource, ["user_data"])

    text = clean.model_dump_json()
    assert "hunter2" not in text and "c2VjcmV0" not in text and "k-123" not in text
    assert clean.tags["team"] == "ops"
    assert clean.content_hash() != REDACTOR.resource(
        resource.model_copy(update={"tags": {**resource.tags, "db_password": "rotated"}}), ["user_data"]
    ).content_hash()


def test_every_lambda_environment_value_is_secret_whatever_its_name():
    """PIN=4711 would be found among 10,000 guesses: the path, not the name, redacts it."""
    from elava.catalogue import registry

    lam = registry.get("lambda.function")
    attributes = {"environment": {"PIN": "4711", "LOG_LEVEL": "debug", "X": "hunter2"}, "runtime": "python3.12"}

    redacted = REDACTOR.tree(attributes, lam.secret_fields)

    assert all(value.startswith(PREFIX) for value in redacted["environment"].values())
    assert redacted["runtime"] == "python3.12"
