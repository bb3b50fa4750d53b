"""Moments typed by people: ISO-8601, or how long ago (``2h``, ``3d``, ``90m``, ``1d12h``).

A time without a zone is read as UTC: the store keeps UTC, and a laptop's local zone
is a poor guess for an AWS account's. A bare date means its midnight, UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGO = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_ago(text: str) -> timedelta | None:
    """``2h``, ``90m``, ``1d12h``, ``2h ago`` as a duration; None if it is not one."""
    compact = text.strip().lower().removesuffix("ago").replace(" ", "")
    if not _AGO.match(compact):
        return None
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(compact)))


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime for ``text``; ValueError saying what is accepted otherwise."""
    try:
        return _parse_time(text, now or datetime.now(UTC))
    except OverflowError:  # e.g. 99999999999d ago, or year 1 moved to UTC
        raise ValueError(f"out of range: {text!r} (times go from year 1 to 9999)") from None


def _parse_time(text: str, now: datetime) -> datetime:
    if text.strip().lower() == "now":
        return now
    ago = parse_ago(text)
    if ago is not None:
        return now - ago
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use ISO-8601 like 2026-11-01T12:00Z, or how long ago like 90m, 2h, 3d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
