from datetime import UTC, datetime, timedelta

import pytest

from elava.timeparse import parse_ago, parse_time

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "ago"), [
    ("2h", timedelta(hours=2)), ("3d", timedelta(days=3)), ("90m", timedelta(minutes=90)),
    ("45s", timedelta(seconds=45)), ("1w", timedelta(weeks=1)), ("1d12h", timedelta(hours=36)),
    ("1.5h", timedelta(minutes=90)), ("2h ago", timedelta(hours=2)), (" 2H ", timedelta(hours=2)),
])
def test_relative_forms_mean_that_long_ago(text, ago):
    assert parse_ago(text) == ago
    assert parse_time(text, now=NOW) == NOW - ago


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-11-01T12:00:00Z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01T12:00z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01T14:00:00+02:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01T12:00:00.250000", datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01 12:30", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
])
def test_iso_times_are_read_as_utc_unless_they_say_otherwise(text, moment):
    parsed = parse_time(text, now=NOW)
    assert parsed == moment and parsed.tzinfo == UTC


def test_now_is_now():
    assert parse_time("now", now=NOW) == NOW


@pytest.mark.parametrize("text", ["", "yesterday", "2x", "h", "-2h", "2026-13-01", "12:00"])
def test_other_text_is_refused_saying_what_is_accepted(text):
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time(text, now=NOW)


@pytest.mark.parametrize("text", ["99999999999d", "99999999999999999999999999999999s", "0001-01-01T00:00+01:00"])
def test_times_beyond_the_calendar_are_refused_as_out_of_range(text):
    with pytest.raises(ValueError, match="out of range"):
        parse_time(text, now=NOW)
