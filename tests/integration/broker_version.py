"""Which Kafka a broker runs: asked over the wire, and read from its own start-up log.

No Kafka request answers "I am 3.9.1". What comes closest is ApiVersions v3 (KIP-584):
its answer carries the feature levels the broker supports, and the highest
``metadata.version`` level a broker supports is the newest production level of its
release line (``MetadataVersion.LATEST_PRODUCTION`` in Kafka's server-common jar).
That names the release line (3.9, 4.4) of any broker, one we started or one we were
given, whatever else it advertises. The patch version is only in what the broker
printed at start-up (``AppInfoParser``: "Kafka version: 3.9.1", read from its own jar).

aiokafka negotiates ApiVersions up to v2 only (no features), so the v3 request is
written here; aiokafka's public protocol types decode the answer. Plaintext only.
"""

from __future__ import annotations

import asyncio
import re
import struct
from io import BytesIO

from aiokafka.protocol.types import CompactArray, CompactString, Int16, Int32, Schema, TaggedFields

# The newest production metadata.version level of each release line, read from
# MetadataVersion.LATEST_PRODUCTION of its kafka-server-common jar (3.9-IV0, 4.4-IV2).
# A release line missing here fails the version test with what to add.
LATEST_METADATA_VERSION = {"3.9": 21, "4.4": 33}

API_VERSIONS, V3 = 18, 3
CLIENT = "elava-tests"
_TEXT = CompactString("utf-8")
_ANSWER = Schema(
    ("error_code", Int16),
    ("api_keys", CompactArray(("api_key", Int16), ("min_version", Int16), ("max_version", Int16),
                              ("tags", TaggedFields))),
    ("throttle_time_ms", Int32),
    ("tags", TaggedFields),
)
SUPPORTED_FEATURES_TAG = 0
_FEATURES = CompactArray(("name", _TEXT), ("min_version", Int16), ("max_version", Int16), ("tags", TaggedFields))


def _request(correlation_id: int) -> bytes:
    client = CLIENT.encode()
    # Request header v2: key, version, correlation id, client id (int16-sized), no tagged fields.
    header = struct.pack(">hhih", API_VERSIONS, V3, correlation_id, len(client)) + client + b"\x00"
    body = _TEXT.encode(CLIENT) + _TEXT.encode("0") + b"\x00"  # software name, version, no tags
    return struct.pack(">i", len(header) + len(body)) + header + body


async def supported_features(bootstrap: str) -> dict[str, tuple[int, int]]:
    """Feature name -> (min, max) level, as the first bootstrap broker supports them."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(_request(correlation_id=1))
        await writer.drain()
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        answer = BytesIO(await reader.readexactly(size))
    finally:
        writer.close()
        await writer.wait_closed()
    (correlation_id,) = struct.unpack(">i", answer.read(4))  # ApiVersions answers with header v0, always
    error_code, _, _, tags = _ANSWER.decode(answer)
    if (correlation_id, error_code) != (1, 0):
        raise RuntimeError(f"ApiVersions v{V3} failed: correlation id {correlation_id}, error code {error_code}")
    features = _FEATURES.decode(BytesIO(tags.get(SUPPORTED_FEATURES_TAG, b"\x01")))
    return {name: (low, high) for name, low, high, _ in features}


def release_line(version: str) -> str:
    """'4.4.0' -> '4.4'."""
    return ".".join(version.split(".")[:2])


def versions_in_log(log: str) -> set[str]:
    return set(re.findall(r"Kafka version: (\S+)", log))
