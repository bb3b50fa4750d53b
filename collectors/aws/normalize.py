"""Turning AWS answers into plain, comparable JSON: what every resource type shares.

Nothing here talks to AWS; it is the pure part of "get -> transform -> publish".
Where a field sits in an answer (JMESPath) is the catalogue's: `elava.catalogue.expressions`.
"""

from __future__ import annotations

import base64
import decimal
from datetime import UTC, date, datetime
from typing import Any

from elava.events import canonical_json


def _utc_iso(moment: datetime) -> str:
    # botocore answers in local time (tzlocal); naive values from AWS are UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def to_json_safe(value: Any) -> Any:
    """Datetimes as UTC ISO strings, Decimals as numbers, bytes as base64, sets sorted."""
    if isinstance(value, dict):
        return {str(key): to_json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_json_safe(item) for item in value), key=canonical_json)
    if isinstance(value, datetime):
        return _utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    return value


def _tag_part(tag: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in tag:
            return tag[name]
    return None


def tags_to_dict(raw: Any) -> dict[str, str]:
    """AWS tags in any of their shapes -> ``{key: value}``.

    Shapes: ``[{"Key", "Value"}]`` (EC2, S3), ``[{"key", "value"}]`` (ECS),
    ``[{"TagKey", "TagValue"}]`` (some older APIs), or already a dict (Lambda).
    """
    if not raw:
        return {}
    if isinstance(raw, dict):
        return {str(key): "" if val is None else str(val) for key, val in raw.items()}
    tags: dict[str, str] = {}
    for tag in raw:
        key = _tag_part(tag, "Key", "key", "TagKey")
        if key is not None:
            val = _tag_part(tag, "Value", "value", "TagValue")
            tags[str(key)] = "" if val is None else str(val)
    return tags
