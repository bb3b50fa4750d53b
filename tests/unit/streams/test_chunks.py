"""Chunked pages and markers joined again in the partition's store, crash-safe."""

from __future__ import annotations

import pytest

from elava.exceptions import SchemaError
from elava.parts import parse_part, split
from streams.chunks import PartAssembler
from streams.inputs import parse_observation_message
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, marker, page, sg, shard

BIG = sg("sg-big", ingress=[{"cidr": f"10.0.{n}.0/24", "note": "x" * 100} for n in range(40)])


def parts_of(event, part_bytes=500, scan="scan-1"):
    return [parse_observation_message(event.shard.encode(), data, headers)
            for data, headers in split(event, event.to_bytes(), part_bytes, "test", scan)]


def test_the_last_part_gives_back_the_whole_page():
    whole = page([BIG], T0)
    parts = parts_of(whole)
    assembler = PartAssembler(MemoryKV())

    assert len(parts) > 3
    assert [assembler.complete(part) for part in parts[:-1]] == [None] * (len(parts) - 1)
    assert assembler.complete(parts[-1]) == whole


def test_a_chunked_page_makes_the_same_changes_as_the_whole():
    whole = page([BIG], T0)
    direct = PartitionProcessor(VersionStore(MemoryKV())).process(whole)
    kv = MemoryKV()
    assembler, processor = PartAssembler(kv), PartitionProcessor(VersionStore(kv))

    joined = [assembler.complete(part) for part in parts_of(whole)][-1]

    assert processor.process(joined) == direct and direct.changes[0].kind == "created"


def test_parts_survive_a_new_assembler_on_the_same_store():
    """A crash or rebalance between parts: the next owner of the partition has them."""
    whole, kv = page([BIG], T0), MemoryKV()
    parts = parts_of(whole)
    for part in parts[:-1]:
        PartAssembler(kv).complete(part)
    assert PartAssembler(kv).complete(parts[-1]) == whole


def test_a_redelivered_last_part_joins_again_after_the_marker_of_its_own_scan():
    whole, kv = page([BIG], T0), MemoryKV()
    assembler = PartAssembler(kv)
    for part in parts_of(whole):
        assembler.complete(part)
    assembler.complete(marker(shard(BIG), [BIG], T0))

    assert assembler.complete(parts_of(whole)[-1]) == whole


def test_the_marker_of_a_later_scan_drops_the_parts_of_earlier_ones():
    kv = MemoryKV()
    assembler = PartAssembler(kv)
    abandoned = parts_of(page([BIG], T0, scan="scan-1"))[:2]  # its collector died mid-page
    for part in abandoned:
        assembler.complete(part)
    kept = parts_of(page([BIG], T0, scan="scan-2"), scan="scan-2")[:1]
    assembler.complete(kept[0])

    assembler.complete(marker(shard(BIG), [BIG], T0, scan="scan-2"))

    scan_2 = b"p\x00" + shard(BIG).encode() + b"\x00scan-2\x00"
    assert [key for key, _ in kv.scan(b"p\x00")] == [
        scan_2 + b"\x00",  # when the scan's first part arrived (for retention)
        scan_2 + kept[0].whole_id.encode() + b"\x00\x00\x00\x00\x00"]


def test_a_chunked_marker_is_joined_too():
    many = [sg(f"sg-{n:05d}") for n in range(300)]
    seen = [r for r in many if shard(r) == shard(many[0])]
    closing = marker(shard(many[0]), seen, T0)
    assembler = PartAssembler(MemoryKV())

    assert [assembler.complete(part) for part in parts_of(closing, part_bytes=200)][-1] == closing


def test_a_last_part_without_the_others_is_refused_with_what_is_missing():
    parts = parts_of(page([BIG], T0))
    assembler = PartAssembler(MemoryKV())
    assembler.complete(parts[0])
    with pytest.raises(SchemaError, match=r"without parts \[1, 2"):
        assembler.complete(parts[-1])


def test_parts_that_do_not_join_into_their_whole_are_refused():
    parts = parts_of(page([BIG], T0))
    forged = parse_part(parts[0].shard.encode(), parts[-1].data, [
        ("elava_whole_type", b"elava.observation"), ("elava_whole_id", parts[0].whole_id.encode()),
        ("elava_scan_id", b"scan-1"), ("elava_part_index", b"1"), ("elava_part_count", b"2")])
    assembler = PartAssembler(MemoryKV())
    assembler.complete(parts[0])
    with pytest.raises(SchemaError):
        assembler.complete(forged)
