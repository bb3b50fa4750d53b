"""The chunk format: an event's bytes as ordered parts, and back."""

from __future__ import annotations

import pytest

from elava.exceptions import SchemaError
from elava.parts import PART_TYPE, parse_part, split
from tests.unit.streams.fixtures import T0, page, sg


def test_parts_are_ordered_slices_that_say_what_they_belong_to():
    whole = page([sg(f"sg-{n}") for n in range(1)], T0, scan="scan-7")
    value = whole.to_bytes()

    messages = split(whole, value, 100, "elava/collector", "scan-7")

    assert len(messages) == -(-len(value) // 100) and b"".join(data for data, _ in messages) == value
    parts = [parse_part(whole.shard.encode(), data, headers) for data, headers in messages]
    assert [(p.index, p.count, p.last) for p in parts][-1] == (len(parts) - 1, len(parts), True)
    assert {(p.whole_type, p.whole_id, p.scan_id, p.shard) for p in parts} == {
        ("elava.observation", whole.event_id, "scan-7", whole.shard)}
    headers = dict(messages[0][1])
    assert headers["ce_type"] == PART_TYPE.encode() and headers["ce_id"] == f"{whole.event_id}/0".encode()
    assert [name for name, _ in messages[0][1]].count("ce_type") == 1


@pytest.mark.parametrize("change, reason", [
    (lambda h: h.pop("elava_part_count"), "part headers"),
    (lambda h: h.update(elava_part_index=b"two"), "part headers"),
    (lambda h: h.update(elava_part_index=b"500"), "outside"),
    (lambda h: h.update(elava_scan_id=b"a\x00b"), "NUL"),
])
def test_a_part_with_bad_headers_is_refused(change, reason):
    whole = page([sg("sg-1")], T0)
    data, headers = split(whole, whole.to_bytes(), 50, "test", "scan-1")[0]
    headers = dict(headers)
    change(headers)
    with pytest.raises(SchemaError, match=reason):
        parse_part(whole.shard.encode(), data, list(headers.items()))
