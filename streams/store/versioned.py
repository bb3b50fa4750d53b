"""The MVCC layout: every version of every resource, over any byte-level KV.

Keys (``\\x00`` never occurs in a uid or shard key):

- ``h\\x00<uid>``                   head: the latest version, with its full content
- ``v\\x00<uid>\\x00<version:4B>``   one record per version; a history is one range read
- ``m\\x00<shard>\\x00<uid>``        shard membership, for deletion by scan markers
- ``s\\x00<shard>``                 the last scan marker seen for the shard ("last seen")

Re-observing an unchanged resource writes nothing: "last seen" belongs to the scan.
Times are integer microseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.store.kv import KV

SEP = b"\x00"


def to_micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def head_key(uid: str) -> bytes:
    return b"h" + SEP + uid.encode()


def version_key(uid: str, version: int) -> bytes:
    return b"v" + SEP + uid.encode() + SEP + version.to_bytes(4, "big")


def versions_prefix(uid: str) -> bytes:
    return b"v" + SEP + uid.encode() + SEP


def member_key(shard: str, uid: str) -> bytes:
    return b"m" + SEP + shard.encode() + SEP + uid.encode()


def scan_key(shard: str) -> bytes:
    return b"s" + SEP + shard.encode()


@dataclass(frozen=True)
class Version:
    """One stored version. ``resource`` is None for a tombstone."""

    uid: str
    version: int
    kind: str
    valid_from: int
    hash: str
    cause: str
    shard: str
    resource: dict[str, Any] | None
    diff: list[dict[str, Any]] = field(default_factory=list)
    attribution: dict[str, Any] | None = None
    valid_to: int | None = None

    @property
    def deleted(self) -> bool:
        return self.kind == "deleted"

    def to_bytes(self) -> bytes:
        record = {k: v for k, v in self.__dict__.items() if k not in ("uid", "valid_to")}
        return orjson.dumps(record)

    @classmethod
    def from_bytes(cls, uid: str, data: bytes) -> Version:
        return cls(uid=uid, **orjson.loads(data))


class VersionStore:
    """Versions, heads and shard membership of resources, on a KV backend."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def head(self, uid: str) -> Version | None:
        data = self.kv.get(head_key(uid))
        return Version.from_bytes(uid, data) if data is not None else None

    def append(self, version: Version) -> None:
        """Store a new version and make it the head (membership on create/delete)."""
        encoded = version.to_bytes()
        self.kv.put(version_key(version.uid, version.version), encoded)
        self.kv.put(head_key(version.uid), encoded)
        if version.kind == "created":
            self.kv.put(member_key(version.shard, version.uid), b"")

    def rewrite(self, version: Version, *, is_head: bool) -> None:
        """Write an existing version's bytes again (for the changelog); nothing changes."""
        encoded = version.to_bytes()
        self.kv.put(version_key(version.uid, version.version), encoded)
        if is_head:
            self.kv.put(head_key(version.uid), encoded)
        if version.kind == "created":
            self.kv.put(member_key(version.shard, version.uid), b"")

    def get_version(self, uid: str, version: int) -> Version | None:
        data = self.kv.get(version_key(uid, version))
        return Version.from_bytes(uid, data) if data is not None else None

    def shard_members(self, shard: str) -> Iterator[str]:
        prefix = b"m" + SEP + shard.encode() + SEP
        for key, _ in self.kv.scan(prefix):
            yield key[len(prefix):].decode()

    def forget_member(self, shard: str, uid: str) -> None:
        self.kv.delete(member_key(shard, uid))

    def versions(self, uid: str) -> list[Version]:
        """All versions of a resource, oldest first, with ``valid_to`` filled in."""
        stored = [Version.from_bytes(uid, data) for _, data in self.kv.scan(versions_prefix(uid))]
        return [
            _with_valid_to(v, stored[i + 1].valid_from if i + 1 < len(stored) else None)
            for i, v in enumerate(stored)
        ]

    def as_of(self, uid: str, moment: datetime) -> Version | None:
        """The version valid at ``moment`` (None if absent or deleted then)."""
        t = to_micros(moment)
        found = None
        for version in self.versions(uid):
            if version.valid_from > t:
                break
            found = version
        return None if found is None or found.deleted else found

    def record_scan(self, shard: str, marker: dict[str, Any]) -> None:
        self.kv.put(scan_key(shard), orjson.dumps(marker))

    def last_scan(self, shard: str) -> dict[str, Any] | None:
        data = self.kv.get(scan_key(shard))
        return orjson.loads(data) if data is not None else None

    def heads(self) -> Iterator[Version]:
        prefix = b"h" + SEP
        for key, data in self.kv.scan(prefix):
            yield Version.from_bytes(key[len(prefix):].decode(), data)


def _with_valid_to(version: Version, valid_to: int | None) -> Version:
    if valid_to is None:
        return version
    return Version(**{**version.__dict__, "valid_to": valid_to})
