"""Every form in which a secret could leak, and a search for them in whatever came out.

A secret leaks as itself, URL-encoded, base64-encoded — on its own, or inside the
base64 of a longer text such as a user-data script (AWS returns user data that way),
where its bytes fall at any of three alignments — or as an unkeyed digest: any hex
prefix of ``sha256(value)`` of eight digits or more (a longer prefix contains the
eight-digit one) lets a guess be checked offline.
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from dataclasses import dataclass

MIN_BASE64_CORE = 8  # shorter fragments would turn up by chance


@dataclass(frozen=True)
class Secret:
    name: str
    value: str


def base64_cores(data: bytes) -> list[bytes]:
    """The base64 characters that ``data`` alone decides, at each of the three alignments.

    Inside a longer base64 text the first and last characters of the secret's span also
    depend on its neighbours; the characters in between are the same wherever it is.
    """
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        start, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
        core = encoded[start:end]
        if len(core) >= MIN_BASE64_CORE:
            cores.append(core)
    return cores


def _digest_prefixes(data: bytes) -> list[tuple[str, bytes]]:
    encoded = base64.b64encode(data)
    return [("sha256 prefix", hashlib.sha256(data).hexdigest()[:8].encode()),
            ("sha256 prefix of its base64", hashlib.sha256(encoded).hexdigest()[:8].encode())]


def forms(secret: Secret) -> list[tuple[str, bytes | re.Pattern[bytes]]]:
    """(form name, bytes or pattern) for every way ``secret`` could show."""
    raw = secret.value.encode()
    # The value itself, not inside a longer word or number ("4711" in "i-04711ab" is no leak).
    found: list[tuple[str, bytes | re.Pattern[bytes]]] = [
        ("plain", re.compile(rb"(?<![A-Za-z0-9])" + re.escape(raw) + rb"(?![A-Za-z0-9])"))]
    for name, quoted in (("url-encoded", urllib.parse.quote(secret.value, safe="")),
                         ("form-encoded", urllib.parse.quote_plus(secret.value))):
        if quoted != secret.value:
            found.append((name, quoted.encode()))
    found += [("base64", base64.b64encode(raw)), ("urlsafe base64", base64.urlsafe_b64encode(raw))]
    found += [("base64 inside a longer text", core) for core in base64_cores(raw)]
    return found + _digest_prefixes(raw)


def find_leaks(secrets: list[Secret], haystacks: dict[str, bytes]) -> list[str]:
    """``"<where>: <secret> as <form>"`` for every form of every secret found anywhere."""
    leaks = []
    for secret in secrets:
        for form, needle in forms(secret):
            for where, data in haystacks.items():
                hit = needle.search(data) if isinstance(needle, re.Pattern) else needle in data
                if hit:
                    leaks.append(f"{where}: {secret.name} as {form}")
    return leaks
