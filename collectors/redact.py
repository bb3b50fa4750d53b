"""Secrets never leave a collector: sensitive values are replaced by a keyed digest.

The digest (HMAC-SHA256 under the installation's redaction key, see
`collectors.redaction_key` and `elava.redaction` for its form) keeps a change
detectable — a rotated password is a new version — while neither the value nor
anything a guess could be checked against offline is published. A field is sensitive
when

- its key *names* a secret: the key's last words are e.g. ``password``, ``secret``,
  ``token``, ``credentials``, ``private_key``, ``user_data``, ``pin`` (``DB_PASSWORD``,
  ``MasterUserPassword``, ``SecretString``); keys that only *refer* to a secret or
  describe it (``secret_arn``, ``PasswordLastUsed``, ``HttpTokens``) are kept, or
- its path matches one of the resource type's ``secret_fields`` (``user_data``,
  ``environment.*``: every value of a Lambda's environment, whatever its name):
  ``*`` matches any one key; lists are transparent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from elava import redaction
from elava.events import Resource, canonical_json

# Word sequences that, at the end of a key, say the value is a secret.
_SECRET_TAILS: tuple[tuple[str, ...], ...] = (
    ("password",), ("passwd",), ("passphrase",), ("secret",), ("token",),
    ("credential",), ("credentials",), ("private", "key"), ("privatekey",),
    ("secret", "key"), ("secret", "access", "key"), ("api", "key"), ("apikey",),
    ("connection", "string"), ("user", "data"), ("userdata",), ("pin",), ("pin", "code"), ("passcode",),
)
# Words that only say how the secret is held (``SecretString``, ``password_value``).
_VALUE_WORDS = frozenset({"value", "values", "string", "binary", "text", "data", "plain", "plaintext"})
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def key_words(key: str) -> list[str]:
    """``MasterUserPassword`` / ``db_password`` / ``X-Api-Key`` -> lower-case words."""
    spaced = _CAMEL_BOUNDARY.sub("_", key)
    return [word.lower() for word in _NON_ALNUM.split(spaced) if word]


def _ends_with(words: list[str], tail: tuple[str, ...]) -> bool:
    return len(words) >= len(tail) and tuple(words[-len(tail):]) == tail


def is_sensitive_key(key: str) -> bool:
    words = key_words(key)
    if any(_ends_with(words, tail) for tail in _SECRET_TAILS):
        return True
    # ``SecretString``, ``password_value``: drop one trailing "how it is held" word.
    if len(words) > 1 and words[-1] in _VALUE_WORDS:
        return any(_ends_with(words[:-1], tail) for tail in _SECRET_TAILS)
    return False


def _split_paths(paths: Iterable[str]) -> list[tuple[str, ...]]:
    return [tuple(path.split(".")) for path in paths]


def _path_matches(path: tuple[str, ...], patterns: Sequence[tuple[str, ...]]) -> bool:
    return any(
        len(pattern) == len(path)
        and all(want in ("*", got) for want, got in zip(pattern, path, strict=True))
        for pattern in patterns
    )


class Redactor:
    """Redacts with one key: the same value gives the same digest under the same key only."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a redaction key needs at least 16 bytes")
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)  # copied per value: the key is set up once
        self.key_id = hmac.new(key, b"elava redaction key id", hashlib.sha256).hexdigest()[:redaction.KEY_ID_HEX]

    @classmethod
    def ephemeral(cls) -> Redactor:
        """A random key that lives as long as this object (the demo; digests never compared later)."""
        return cls(secrets.token_bytes(32))

    def __repr__(self) -> str:
        return f"Redactor(key_id={self.key_id!r})"  # never the key

    def value(self, value: Any) -> str:
        """``redacted:hmac-sha256:<key id>:<digest>`` of the value (strings by their UTF-8 bytes)."""
        if redaction.key_id_of(value) == self.key_id:
            return value  # already redacted with this key: keep the digest of the original
        data = value.encode() if isinstance(value, str) else canonical_json(value)
        mac = self._keyed.copy()
        mac.update(data)
        return redaction.redacted(self.key_id, mac.hexdigest())

    def tree(self, value: Any, secret_fields: Iterable[str] = ()) -> Any:
        """A copy of a JSON-like value with every sensitive field's value redacted.

        ``None`` stays ``None``: "no user data" is not a secret, and it keeps the
        absence of a value visible.
        """
        return self._walk(value, (), _split_paths(secret_fields))

    def resource(self, resource: Resource, secret_fields: Iterable[str] = ()) -> Resource:
        """The resource with sensitive attributes and tag values redacted."""
        attributes = self.tree(resource.attributes, secret_fields)
        tags = {key: self.value(val) if is_sensitive_key(key) else val for key, val in resource.tags.items()}
        if attributes == resource.attributes and tags == resource.tags:
            return resource
        return resource.model_copy(update={"attributes": attributes, "tags": tags})

    def _walk(self, value: Any, path: tuple[str, ...], patterns: Sequence[tuple[str, ...]]) -> Any:
        if isinstance(value, dict):
            redacted = {}
            for key, item in value.items():
                child = path + (str(key),)
                if is_sensitive_key(str(key)) or _path_matches(child, patterns):
                    redacted[key] = None if item is None else self.value(item)
                else:
                    redacted[key] = self._walk(item, child, patterns)
            return redacted
        if isinstance(value, list):
            return [self._walk(item, path, patterns) for item in value]
        return value
