"""What the asking worker does before it asks the group (streams/drivers/worker/cluster.py); the asking
itself runs against real workers in tests/integration/test_worker_group.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.drivers.worker.cluster import PARTITIONS_HEADER, asked_partitions, envelope, pinned
from streams.store.api import Found


def test_times_are_fixed_once_for_every_worker():
    fixed = pinned("/v1/changes", {"since": "2h", "type": "ec2.instance"})
    since, until = datetime.fromisoformat(fixed["since"]), datetime.fromisoformat(fixed["until"])
    assert (until - since).total_seconds() == 7200  # "2h" and the default "now" are one moment
    assert fixed["type"] == "ec2.instance"
    at = datetime.fromisoformat(pinned("/v1/inventory", {})["at"])  # "now", written out
    assert abs((datetime.now(UTC) - at).total_seconds()) < 60


def test_only_the_times_an_endpoint_takes_are_added_and_a_bad_one_is_left_to_refuse():
    assert set(pinned("/v1/history", {"uid": "sg-1"})) == {"uid", "until"}
    assert "at" not in pinned("/v1/changes", {"since": "1d"})
    assert pinned("/v1/changes", {"since": "yesterday-ish"})["since"] == "yesterday-ish"  # the workers say 400


def test_the_partitions_header_is_a_list_of_partition_numbers():
    assert asked_partitions("0,3, 5", 8) == frozenset({0, 3, 5})
    for bad in ("", "8", "-1", "a", "1;2"):
        with pytest.raises(ValueError, match=PARTITIONS_HEADER):
            asked_partitions(bad, 8)


def test_an_envelope_says_which_partitions_it_answers_for():
    assert envelope(Found(200, [{"uid": "u"}], ("u",)), frozenset({3, 1})) == {
        "partitions": [1, 3], "status": 200, "body": [{"uid": "u"}], "uids": ["u"]}
