"""The worker's page reader: a real child parses and hashes pages ahead of the agent; whatever it
cannot answer (not handed ahead, other bytes, the child gone) the agent reads itself."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from streams.drivers.worker import page_reader
from streams.drivers.worker.page_reader import PageReader
from streams.pages import prepare_page
from tests.unit.streams.fixtures import T0, page, sg


def pages(count: int) -> list[bytes]:
    """Pages of one shard each (two resources, one tagged), each different."""
    return [page([sg(f"sg-{n}"), sg(f"sg-{n}", tags={"n": str(n)})], T0, scan=f"s{n}").to_bytes()
            for n in range(count)]


@pytest.fixture
async def reader():
    made = PageReader()
    yield made
    made.close()


async def test_pages_handed_ahead_come_back_prepared_in_any_order_asked(reader):
    data = pages(5)
    for offset, value in enumerate(data):
        reader.submit(("observations", 0, offset), value)
    got = {offset: await reader.prepared(("observations", 0, offset), data[offset]) for offset in (3, 0, 4, 1, 2)}
    assert all(got[offset] == prepare_page(value) for offset, value in enumerate(data))
    assert (reader.read_ahead, reader.read_here) == (5, 0)


async def test_a_page_not_handed_ahead_or_other_bytes_at_its_offset_is_read_by_the_agent(reader):
    first, second = pages(2)
    reader.submit(("observations", 1, 7), first)
    assert await reader.prepared(("observations", 1, 8), first) is None  # never handed ahead
    assert await reader.prepared(("observations", 1, 7), bytes(bytearray(first))) is None  # fetched again: other bytes
    assert await reader.prepared(("observations", 1, 7), first) is None  # asked for once only
    reader.submit(("observations", 1, 9), second)
    assert await reader.prepared(("observations", 1, 9), second) == prepare_page(second)


async def test_what_the_child_declines_is_read_by_the_agent(reader):
    reader.submit(("observations", 0, 0), b"not json")
    assert await reader.prepared(("observations", 0, 0), b"not json") is None
    assert reader.read_here == 1


async def test_a_child_that_dies_leaves_its_pages_to_the_agent_and_is_started_again(reader, monkeypatch):
    monkeypatch.setattr(page_reader, "RESTART_EVERY_S", 0.0)
    data = pages(3)
    reader.submit(("observations", 0, 0), data[0])
    assert await reader.prepared(("observations", 0, 0), data[0]) is not None
    first = reader._child.pid
    os.kill(first, signal.SIGKILL)
    reader.submit(("observations", 0, 1), data[1])  # to the dead child, or a new one if seen dead already
    assert await reader.prepared(("observations", 0, 1), data[1]) in (None, prepare_page(data[1]))
    for _ in range(100):  # the reader thread sees the pipe close
        if not reader._child.alive or reader._child.pid != first:
            break
        await asyncio.sleep(0.05)
    reader.submit(("observations", 0, 2), data[2])
    assert reader._child.pid != first
    assert await reader.prepared(("observations", 0, 2), data[2]) == prepare_page(data[2])


async def test_the_oldest_pages_never_asked_for_are_forgotten(reader, monkeypatch):
    monkeypatch.setattr(page_reader, "KEPT", 2)
    data = pages(3)
    for offset, value in enumerate(data):
        reader.submit(("observations", 0, offset), value)
    assert await reader.prepared(("observations", 0, 0), data[0]) is None  # dropped at a rebalance, say
    assert await reader.prepared(("observations", 0, 2), data[2]) == prepare_page(data[2])
