"""What an unchanged observation costs the worker's core, piece by piece.

In a steady scan nine resources in ten are what their heads hold already, and the worker
only screens them (streams/observe.py ``Observer.screen_with_heads``): it parses the page,
reads each resource's head, parses the head's leading fields and compares the content
hash. Beside them, references: the leading fields' regex alone, and the content's JSON with
the option set ``canonical_json`` always used before (same bytes). This stores one round of the pipeline benchmark's pages (tests/bench/pipeline_data.py)
in a RocksDB store as the worker does, then times each piece over the same pages again,
all of them unchanged (thread CPU, median of ``--repeats``; the pieces interleaved, so the
machine's noise falls on all of them alike). Prints one JSON object: µs per observation.

    python -m tests.bench.bench_screening [--resources 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from elava.events import canonical_json
from streams.inputs import read_observation_message
from streams.observe import Observer
from streams.pages import RawPage, raw_content_hash
from streams.process import PartitionProcessor
from streams.store.keyspaces import head_key
from streams.store.kv import RocksKV
from streams.store.versioned import _LEAD, RecordLead, VersionStore
from tests.bench.pipeline_data import build_rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rounds = asyncio.run(build_rounds(args.resources, 1, modified=0.1, buckets=16, page_size=500))
    with tempfile.TemporaryDirectory() as tmp:
        kv = RocksKV(Path(tmp) / "store")
        store = VersionStore(kv)
        messages = rounds[0].messages
        for message in messages:
            PartitionProcessor(store).process(read_observation_message(message.key, message.value, message.headers))
        pieces = _pieces(store, [m for m in messages if m.observations])
        observations = rounds[0].observations
        times: dict[str, list[float]] = {name: [] for name in pieces}
        for repeat in range(args.repeats):
            for name in (list(pieces) if repeat % 2 else list(reversed(pieces))):
                started = time.thread_time()
                pieces[name]()
                times[name].append((time.thread_time() - started) / observations * 1e6)
        kv.close()
    print(json.dumps({"resources": args.resources, "repeats": args.repeats,
                      "us_per_observation": {name: round(statistics.median(t), 2) for name, t in times.items()},
                      "load_average_1m": os.getloadavg()[0]}))


def _pieces(store: VersionStore, messages: list) -> dict[str, Callable[[], object]]:
    """Each piece of screening an unchanged page, over every page, as a call."""
    pages: list[RawPage] = [read_observation_message(m.key, m.value, m.headers) for m in messages]
    uids = [[resource["uid"] for resource in page.resources] for page in pages]
    heads = [store.kv.get_many([head_key(uid) for uid in page_uids]) for page_uids in uids]
    contents = [{"name": r.get("name"), "tags": r.get("tags", {}), "attributes": r.get("attributes", {})}
                for page in pages for r in page.resources]
    observer = Observer(store)
    return {
        "page_parse": lambda: [read_observation_message(m.key, m.value, m.headers) for m in messages],
        "heads_multiget": lambda: [store.kv.get_many([head_key(uid) for uid in page_uids]) for page_uids in uids],
        "head_lead_parse": lambda: [RecordLead.from_bytes(uid, data) for page_uids, found in zip(uids, heads, strict=True)
                                    for uid, data in zip(page_uids, found, strict=True)],
        "head_lead_regex_only": lambda: [_LEAD.match(data).groups() for found in heads for data in found],
        "content_hash": lambda: [raw_content_hash(r) for page in pages for r in page.resources],
        "canonical_json": lambda: [canonical_json(content) for content in contents],
        # The option set canonical_json always used before: its bytes, a quarter slower.
        "canonical_json_any_keys": lambda: [orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
                                            for content in contents],
        "screen_with_heads": lambda: [observer.screen_with_heads(page) for page in pages],
    }


if __name__ == "__main__":
    main()
