"""How a redacted secret reads on every topic, in the store and in every answer.

``redacted:hmac-sha256:<key id>:<digest>``: the digest is an HMAC-SHA256 of the value
under the installation's redaction key (`collectors.redact`), so a changed secret is a
changed digest, but a guess cannot be checked without the key. The key id (8 hex
digits, derived from the key) says which key made the digest: after the key is rotated
every redacted field changes once, and readers (drift) can tell that from a new secret.

``redacted:sha256:<16 hex>`` is the unkeyed form written before keyed redaction; it is
recognised (as key id ``""``) so that the switch to keyed digests is also a rotation.
"""

from __future__ import annotations

import re
from typing import Any

PREFIX = "redacted:hmac-sha256:"
LEGACY_PREFIX = "redacted:sha256:"
KEY_ID_HEX = 8
DIGEST_HEX = 32
_KEYED = re.compile(rf"redacted:hmac-sha256:([0-9a-f]{{{KEY_ID_HEX}}}):[0-9a-f]{{{DIGEST_HEX}}}")
_LEGACY = re.compile(r"redacted:sha256:[0-9a-f]{16}")
_MASK = "redacted"


def redacted(key_id: str, digest_hex: str) -> str:
    return f"{PREFIX}{key_id}:{digest_hex[:DIGEST_HEX]}"


def key_id_of(value: Any) -> str | None:
    """The key id of a redacted value (``""`` for the unkeyed legacy form); None if not redacted."""
    if not isinstance(value, str):
        return None
    keyed = _KEYED.fullmatch(value)
    if keyed:
        return keyed.group(1)
    return "" if _LEGACY.fullmatch(value) else None


def _masked(value: Any, key_ids: set[str]) -> Any:
    """``value`` with every redacted string replaced by one placeholder; collects their key ids."""
    if isinstance(value, dict):
        return {key: _masked(item, key_ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, key_ids) for item in value]
    key_id = key_id_of(value)
    if key_id is None:
        return value
    key_ids.add(key_id)
    return _MASK


def only_rekeyed(old: Any, new: Any) -> bool:
    """True when ``old`` and ``new`` differ only in redacted values made with different keys.

    That is what a rotated redaction key looks like. (A secret that changed at the very
    moment its key was rotated looks the same: the digests cannot tell them apart.)
    """
    old_keys: set[str] = set()
    new_keys: set[str] = set()
    same_shape = _masked(old, old_keys) == _masked(new, new_keys)
    return same_shape and bool(old_keys) and old_keys.isdisjoint(new_keys)
