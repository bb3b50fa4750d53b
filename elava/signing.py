"""Signed action requests: HMAC-SHA256 over the message value, the key named in a header.

Whoever publishes action requests (the policy stage) signs each value with the key
``signing.key_id``; the executor accepts a request only if one of the keys it holds
gives the same signature. Anyone who can write to the actions topic but holds no key
cannot make the executor act.

One call for a publisher::

    headers = cloudevent_headers(event, SOURCE) + signed_headers(value, signer)

Rotation: a keyring holds every key it is given, so during a change both the old and
the new key verify. Add the new key to every executor (and publisher) first, then
switch ``signing.key_id`` on the publishers, then remove the old key once no request
signed with it is left to read (docs/executor.md, Keys).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from elava.exceptions import SettingsError
from elava.settings import SigningSettings

KEY_ID_HEADER = "elava_key_id"
SIGNATURE_HEADER = "elava_signature"
SCHEME = "hmac-sha256="
MIN_KEY_BYTES = 16  # a shorter secret could be guessed; 32 random bytes is what `elava demo` makes


@dataclass(frozen=True)
class Signer:
    """One key: its id (public, sent in a header) and its secret bytes."""

    key_id: str
    key: bytes

    def __repr__(self) -> str:  # the secret never shows in a log line or a traceback
        return f"Signer(key_id={self.key_id!r})"


@dataclass(frozen=True)
class Verdict:
    """What the signature check found: the key that signed, or why the request is refused.

    ``key_id`` None with no ``problem``: unsigned, accepted because no key is configured.
    """

    key_id: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


UNSIGNED_ACCEPTED = Verdict()


def signature(value: bytes, signer: Signer) -> str:
    return SCHEME + hmac.new(signer.key, value, hashlib.sha256).hexdigest()


def signed_headers(value: bytes, signer: Signer | None) -> list[tuple[str, bytes]]:
    """The headers that sign ``value`` (none without a signer: the request goes out unsigned)."""
    if signer is None:
        return []
    return [(KEY_ID_HEADER, signer.key_id.encode()), (SIGNATURE_HEADER, signature(value, signer).encode())]


class Keyring:
    """The keys a process holds: every one verifies; the one named ``signing_key_id`` signs."""

    def __init__(self, keys: Mapping[str, bytes], signing_key_id: str | None = None) -> None:
        self._keys = dict(keys)
        self._signing_key_id = signing_key_id if signing_key_id in self._keys else None

    @property
    def required(self) -> bool:
        """With any key configured, unsigned requests are refused."""
        return bool(self._keys)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def signer(self) -> Signer | None:
        if self._signing_key_id is None:
            return None
        return Signer(self._signing_key_id, self._keys[self._signing_key_id])

    def verify(self, value: bytes, headers: Iterable[tuple[str, bytes]] | None) -> Verdict:
        found = _headers(headers)
        key_id, given = found.get(KEY_ID_HEADER), found.get(SIGNATURE_HEADER)
        if not self.required:
            return UNSIGNED_ACCEPTED  # nothing to check against (allowed only where settings say so)
        if key_id is None or given is None:
            return Verdict(problem="unsigned request (no signature header)")
        key = self._keys.get(key_id)
        if key is None:
            return Verdict(key_id, f"signed with unknown key {key_id!r} (this executor holds {', '.join(self.key_ids)})")
        if not hmac.compare_digest(given.encode(), signature(value, Signer(key_id, key)).encode()):
            return Verdict(key_id, f"bad signature for key {key_id!r}: the message is not what was signed")
        return Verdict(key_id)


def _headers(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, raw in headers or ():
        if name in (KEY_ID_HEADER, SIGNATURE_HEADER) and raw is not None:
            found[name] = raw.decode(errors="replace")
    return found


def keyring_from(settings: SigningSettings) -> Keyring:
    """The keys of ``signing`` (files read now); a bad key stops start-up naming its field."""
    keys = {key_id: secret.get_secret_value().encode() for key_id, secret in settings.keys.items()}
    fields = {key_id: f"signing.keys.{key_id}" for key_id in keys}
    for key_id, path in settings.key_files.items():
        fields[key_id] = f"signing.key_files.{key_id}"
        keys[key_id] = _read_key(path, fields[key_id])
    for key_id, key in keys.items():
        if len(key) < MIN_KEY_BYTES:
            raise SettingsError(f"invalid setting '{fields[key_id]}': a key needs at least "
                                f"{MIN_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)")
    return Keyring(keys, settings.key_id)


def _read_key(path: Path, field: str) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise SettingsError(f"invalid setting '{field}': cannot read {path}: {exc.strerror}") from exc
    if not key:
        raise SettingsError(f"invalid setting '{field}': {path} is empty")
    return key
