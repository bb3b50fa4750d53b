"""Turning AWS answers into plain, comparable JSON: what every resource type shares.

Nothing here talks to AWS; it is the pure part of "get -> transform -> publish".
"""

from __future__ import annotations

import base64
import decimal
import functools
from datetime import UTC, date, datetime
from typing import Any

import jmespath
from jmespath import functions as jmespath_functions
from jmespath.parser import ParsedResult

from elava.events import canonical_json

# Partitions by region prefix; everything else is the commercial partition.
_PARTITION_PREFIXES = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
    ("eusc-", "aws-eusc"),
)


class _Functions(jmespath_functions.Functions):
    """JMESPath's functions plus ``split(text, sep)``: ``split(Id, '/')[-1]``."""

    @jmespath_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_split(self, text: str, sep: str) -> list[str]:
        return text.split(sep)


_OPTIONS = jmespath.Options(custom_functions=_Functions())


@functools.lru_cache(maxsize=2048)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def extract(data: Any, expression: str) -> Any:
    """The value at a JMESPath expression (``Reservations[].Instances[]``, ``State.Name``)."""
    return _compiled(expression).search(data, options=_OPTIONS)


def compile_check(expression: str) -> None:
    """Raise early (at type declaration) on an expression that cannot compile."""
    _compiled(expression)


def partition_for(region: str) -> str:
    for prefix, partition in _PARTITION_PREFIXES:
        if region.startswith(prefix):
            return partition
    return "aws"


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
