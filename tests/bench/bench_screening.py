"""What an unchanged observation costs the worker's core, piece by piece.

In a steady scan nine resources in ten are what their heads hold already, and the worker
only screens them (streams/observe.py ``Observer.screen_with_heads``): it parses the page,
reads each resource's head, parses the head's leading fields and compares the content
hash. Beside them, references: the leading fields' regex alone, and the content's JSON with
the option set ``canonical_json`` always used before (same bytes). This stores one round of the pipeline benchmark's pages (tests/bench/pipeline_data.py)
in a RocksDB store as the worker does, then times each piece over the same pages again,
all of them unchanged (thread CPU, median of ``--repeats``; the pieces interleaved, so the
machine's noise falls on all of them alike). Prints one JSON object: µs per observation.

Each piece handles one page at a time and keeps nothing of it, as the worker does, under the
worker's garbage collector (``elava.heap.settle_heap``, called once the store is built);
``--python-gc`` keeps Python's default thresholds instead, to see what that setting is worth.

    python -m tests.bench.bench_screening [--resources 20000] [--repeats 7] [--python-gc]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from elava.events import canonical_json
from elava.heap import settle_heap
from streams.inputs import read_observation_message
from streams.observe import Observer
from streams.pages import RawPage, raw_content_hash
from streams.process import PartitionProcessor
from streams.store.keyspaces import head_key
from streams.store.kv import RocksKV
from streams.store.records import _LEAD, RecordLead
from streams.store.versioned import VersionStore
from tests.bench.pipeline_data import build_rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--python-gc", action="store_true", help="Python's GC thresholds, not the worker's")
    args = parser.parse_args()
    rounds = asyncio.run(build_rounds(args.resources, 1, modified=0.1, buckets=16, page_size=500))
    with tempfile.TemporaryDirectory() as tmp:
        kv = RocksKV(Path(tmp) / "store")
        store = VersionStore(kv)
        messages = rounds[0].messages
        for message in messages:
            PartitionProcessor(store).process(read_observation_message(message.key, message.value, message.headers))
        pieces = _pieces(store, [m for m in messages if m.observations])
        if not args.python_gc:
            settle_heap()  # as the worker does once started (streams/drivers/worker/app.py)
        observations = rounds[0].observations
        times: dict[str, list[float]] = {name: [] for name in pieces}
        for repeat in range(args.repeats):
            for name in (list(pieces) if repeat % 2 else list(reversed(pieces))):
                started = time.thread_time()
                pieces[name]()
                times[name].append((time.thread_time() - started) / observations * 1e6)
        kv.close()
    print(json.dumps({"resources": args.resources, "repeats": args.repeats, "gc_thresholds": gc.get_threshold(),
                      "us_per_observation": {name: round(statistics.median(t), 2) for name, t in times.items()},
                      "load_average_1m": os.getloadavg()[0]}))


def _pieces(store: VersionStore, messages: list) -> dict[str, Callable[[], object]]:
    """Each piece of screening an unchanged page, over every page, as a call."""
    pages: list[RawPage] = [read_observation_message(m.key, m.value, m.headers) for m in messages]
    uids = [[resource["uid"] for resource in page.resources] for page in pages]
    def read_heads(page_uids: list[str]) -> list:
        return store.kv.get_many([head_key(uid) for uid in page_uids])

    heads = [read_heads(page_uids) for page_uids in uids]
    contents = [[{"name": r.get("name"), "tags": r.get("tags", {}), "attributes": r.get("attributes", {})}
                 for r in page.resources] for page in pages]
    observer = Observer(store)
    return {
        "page_parse": _each(lambda m: read_observation_message(m.key, m.value, m.headers), messages),
        "heads_multiget": _each(read_heads, uids),
        "head_lead_parse": _each(lambda pair: [RecordLead.from_bytes(uid, data) for uid, data in zip(*pair, strict=True)],
                                 list(zip(uids, heads, strict=True))),
        "head_lead_regex_only": _each(lambda found: [_LEAD.match(data).groups() for data in found], heads),
        "content_hash": _each(lambda page: [raw_content_hash(r) for r in page.resources], pages),
        "canonical_json": _each(lambda page: [canonical_json(c) for c in page], contents),
        # The option set canonical_json always used before: its bytes, a quarter slower.
        "canonical_json_any_keys": _each(
            lambda page: [orjson.dumps(c, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) for c in page], contents),
        "screen_with_heads": _each(observer.screen_with_heads, pages),
    }


def _each(work: Callable[[Any], object], items: list) -> Callable[[], None]:
    """``work`` over each item (a page's worth), its result dropped before the next, as the worker drops a page's."""
    def run() -> None:
        for item in items:
            work(item)
    return run


if __name__ == "__main__":
    main()
