"""Byte-level key/value backends under the versioned store.

Backends implement get/put/delete and an ordered prefix scan; everything above
(versions, heads, shard membership) is layout, not storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from elava.exceptions import StoreError

STORE_FORMAT = b"elava-mvcc-1"
FORMAT_KEY = b"\x00format"


class KV(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def put(self, key: bytes, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...
    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...


def prefix_scan(db, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Ordered items of a raw-mode Rdict whose key starts with ``prefix``."""
    for key, value in db.items(from_key=prefix):
        if not key.startswith(prefix):
            return
        yield key, value


class MemoryKV:
    """A dict-backed KV for tests of the layers above storage."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._data[key] = value

    def delete(self, key: bytes) -> None:
        self._data.pop(key, None)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(k for k in self._data if k.startswith(prefix)):
            yield key, self._data[key]


class RocksKV:
    """The embedded backend: one RocksDB directory through rocksdict (raw bytes)."""

    def __init__(self, path: Path) -> None:
        import rocksdict  # imported here so the core stays importable without it

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        try:
            self._db = rocksdict.Rdict(str(path), options=options)
        except Exception as exc:  # rocksdict raises plain Exception on open failures
            raise StoreError(f"cannot open store at {path}: {exc}") from exc
        self._check_format()

    def _check_format(self) -> None:
        found = self._db.get(FORMAT_KEY)
        if found is None:
            if any(True for _ in self._db.keys()):
                raise StoreError(f"{self.path} holds a RocksDB database that is not an Elava store")
            self._db.put(FORMAT_KEY, STORE_FORMAT)
        elif found != STORE_FORMAT:
            raise StoreError(f"{self.path} is an Elava store of another format ({found!r})")

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._db.put(key, value)

    def delete(self, key: bytes) -> None:
        self._db.delete(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return prefix_scan(self._db, prefix)

    def close(self) -> None:
        self._db.close()
