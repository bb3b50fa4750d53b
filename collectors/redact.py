"""Secrets never leave a collector: sensitive values are replaced by a short digest.

The digest keeps a change detectable (a rotated password is a new version) while the
value itself is never published. A field is sensitive when

- its key *names* a secret: the key's last words are e.g. ``password``, ``secret``,
  ``token``, ``credentials``, ``private_key``, ``user_data`` (``DB_PASSWORD``,
  ``MasterUserPassword``, ``SecretString``); keys that only *refer* to a secret or
  describe it (``secret_arn``, ``PasswordLastUsed``, ``HttpTokens``) are kept, or
- its path matches one of the resource type's ``secret_fields`` (``user_data``,
  ``environment.variables.*``): ``*`` matches any one key; lists are transparent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from elava.events import Resource, canonical_json

REDACTED_PREFIX = "redacted:sha256:"

# Word sequences that, at the end of a key, say the value is a secret.
_SECRET_TAILS: tuple[tuple[str, ...], ...] = (
    ("password",), ("passwd",), ("passphrase",), ("secret",), ("token",),
    ("credential",), ("credentials",), ("private", "key"), ("privatekey",),
    ("secret", "key"), ("secret", "access", "key"), ("api", "key"), ("apikey",),
    ("connection", "string"), ("user", "data"), ("userdata",),
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


def redact_value(value: Any) -> str:
    """``redacted:sha256:<16 hex>`` of the value (strings by their UTF-8 bytes)."""
    if isinstance(value, str) and value.startswith(REDACTED_PREFIX):
        return value  # already redacted: keep the digest of the original
    data = value.encode() if isinstance(value, str) else canonical_json(value)
    return REDACTED_PREFIX + hashlib.sha256(data).hexdigest()[:16]


def _split_paths(paths: Iterable[str]) -> list[tuple[str, ...]]:
    return [tuple(path.split(".")) for path in paths]


def _path_matches(path: tuple[str, ...], patterns: Sequence[tuple[str, ...]]) -> bool:
    return any(
        len(pattern) == len(path)
        and all(want in ("*", got) for want, got in zip(pattern, path, strict=True))
        for pattern in patterns
    )


def _walk(value: Any, path: tuple[str, ...], patterns: Sequence[tuple[str, ...]]) -> Any:
    if isinstance(value, dict):
        redacted = {}
        for key, item in value.items():
            child = path + (str(key),)
            if is_sensitive_key(str(key)) or _path_matches(child, patterns):
                redacted[key] = None if item is None else redact_value(item)
            else:
                redacted[key] = _walk(item, child, patterns)
        return redacted
    if isinstance(value, list):
        return [_walk(item, path, patterns) for item in value]
    return value


def redact_tree(value: Any, secret_fields: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with every sensitive field's value redacted.

    ``None`` stays ``None``: "no user data" is not a secret, and it keeps the
    absence of a value visible.
    """
    return _walk(value, (), _split_paths(secret_fields))


def redact_resource(resource: Resource, secret_fields: Iterable[str] = ()) -> Resource:
    """The resource with sensitive attributes and tag values redacted."""
    attributes = redact_tree(resource.attributes, secret_fields)
    tags = {key: redact_value(val) if is_sensitive_key(key) else val for key, val in resource.tags.items()}
    if attributes == resource.attributes and tags == resource.tags:
        return resource
    return resource.model_copy(update={"attributes": attributes, "tags": tags})
