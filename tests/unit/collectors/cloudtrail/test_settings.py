"""The cloudtrail settings section: each source names the setting it lacks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.exceptions import SettingsError
from elava.settings import load_settings


def test_defaults_poll_lookup_events_an_hour_back():
    trail = load_settings(None).cloudtrail
    assert (trail.sources, trail.lookback, trail.poll_interval) == (["lookup"], timedelta(hours=1),
                                                                   timedelta(minutes=1))


@pytest.mark.parametrize(("source", "field"), [("eventbridge", "sqs_queue_url"), ("s3", "s3_bucket")])
def test_a_source_without_its_setting_is_refused_naming_the_field(source, field):
    with pytest.raises(SettingsError, match=f"cloudtrail.{field}"):
        load_settings(None, cloudtrail__sources=[source])


def test_every_source_with_its_settings_and_durations_as_text():
    trail = load_settings(None, cloudtrail__sources=["lookup", "eventbridge", "s3"],
                          cloudtrail__sqs_queue_url="https://sqs/q", cloudtrail__s3_bucket="trail",
                          cloudtrail__lookback="2h", cloudtrail__poll_interval="30s").cloudtrail
    assert (trail.lookback, trail.poll_interval) == (timedelta(hours=2), timedelta(seconds=30))


def test_late_delivery_windows_default_and_must_be_positive():
    trail = load_settings(None).cloudtrail
    assert (trail.lookup_late_delivery, trail.s3_late_delivery) == (timedelta(minutes=15), timedelta(hours=1))
    assert load_settings(None, cloudtrail__s3_late_delivery="3h").cloudtrail.s3_late_delivery == timedelta(hours=3)
    for field in ("lookup_late_delivery", "s3_late_delivery"):
        with pytest.raises(SettingsError, match=f"cloudtrail.{field}"):
            load_settings(None, **{f"cloudtrail__{field}": "0s"})


def test_an_unknown_source_is_refused():
    with pytest.raises(SettingsError, match="cloudtrail.sources"):
        load_settings(None, cloudtrail__sources=["kinesis"])
