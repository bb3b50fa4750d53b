"""Reading the checkpoints topic: the last value per key wins, a tombstone forgets."""

from __future__ import annotations

import orjson

from collectors.cloudtrail.checkpoints import _apply, checkpoint_key


def value(position: dict) -> bytes:
    return orjson.dumps({"position": position, "saved_at": "2026-11-02T10:00:00+00:00"})


def test_the_last_value_per_key_wins_and_a_tombstone_forgets():
    latest: dict = {}
    key = checkpoint_key("lookup", "111122223333", "eu-west-1").encode()
    _apply(latest, key, value({"time": "a"}))
    _apply(latest, key, value({"time": "b"}))
    _apply(latest, b"s3/111122223333/eu-west-1", value({"last_key": "k"}))
    assert latest == {"lookup/111122223333/eu-west-1": {"time": "b"}, "s3/111122223333/eu-west-1": {"last_key": "k"}}
    _apply(latest, key, None)
    assert list(latest) == ["s3/111122223333/eu-west-1"]


def test_an_unreadable_value_or_a_missing_key_is_ignored():
    latest: dict = {}
    _apply(latest, b"lookup/1/r", b"not json")
    _apply(latest, None, value({"time": "a"}))
    assert latest == {}
