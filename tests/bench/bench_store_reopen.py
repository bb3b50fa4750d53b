"""A store reopened: its heads read as a scan reads them, with the store's options or without.

    python -m tests.bench.bench_store_reopen [--resources 100000 --passes 3]

Writes ``--resources`` heads (~360 B) and versions (~2 KB) as a first scan does, in write batches
of a page's records, and closes the store. Then reopens it three ways and reads every head in
MultiGets of 500 uids in a random order (a page's resources hash to a shard, not to a key range),
``--passes`` times (the first warms the cache):

- ``shipped``: ``RocksKV`` as it opens a store now (its table options named for the existing
  column family: the 256 MiB block cache and the bloom filter);
- ``unnamed``: the same options passed as before, without naming the column family: rocksdict
  then gives it RocksDB's default table options (an 8 MiB block cache, no bloom filter);
- ``small_cache``: the options named, with an 8 MiB block cache (what the cache alone gives).

Prints one JSON object: µs per head for each pass, and the block cache each open ended with.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import rocksdict

from streams.store.kv import (
    BLOCK_SIZE,
    BOTTOMMOST_COMPRESSION,
    COMPRESSION,
    MIB,
    RocksKV,
    open_rdict,
    store_options,
)
from tests.bench.bench_pipeline import machine

PAGE = 500


def write_store(path: Path, resources: int) -> list[bytes]:
    rnd = random.Random(7)
    heads = []
    kv = RocksKV.for_scan(path)
    try:
        for start in range(0, resources, PAGE):
            items = []
            for _ in range(min(PAGE, resources - start)):
                uid = f"arn:aws:ec2:us-east-1:123456789012:instance/i-{rnd.getrandbits(64):016x}".encode()
                heads.append(b"h\x00" + uid)
                items += [(b"h\x00" + uid, os.urandom(180) * 2), (b"v\x00" + uid + b"\x00\x00\x00\x00\x01",
                                                                  os.urandom(400) * 5)]
            kv.write(items)
    finally:
        kv.close()
    return heads


def read_passes(get_many: Any, heads: list[bytes], passes: int) -> list[float]:
    order = list(heads)
    random.Random(11).shuffle(order)
    figures = []
    for _ in range(passes):
        started = time.perf_counter()
        for start in range(0, len(order), PAGE):
            get_many(order[start:start + PAGE])
        figures.append(round((time.perf_counter() - started) / len(order) * 1e6, 2))
    return figures


def opened(path: Path, how: str) -> tuple[Any, Any, Any]:
    """(database, cache, closer) for one way of opening the store."""
    if how == "shipped":
        kv = RocksKV(path)
        return kv._db, kv._cache, kv.close
    cache = rocksdict.Cache((8 if how == "small_cache" else 256) * MIB)
    options = store_options(COMPRESSION, BOTTOMMOST_COMPRESSION, BLOCK_SIZE, cache)
    access = rocksdict.AccessType.read_write()
    db = open_rdict(path, options, access) if how == "small_cache" else \
        rocksdict.Rdict(str(path), options=options, access_type=access)
    return db, cache, db.close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine(), "resources": args.resources, "multiget": PAGE}
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "store"
        heads = write_store(path, args.resources)
        for how in ("unnamed", "shipped", "small_cache"):
            db, _cache, close = opened(path, how)
            try:
                report[how] = {"us_per_head": read_passes(db.get, heads, args.passes),
                               "block_cache_mib": int(db.property_value("rocksdb.block-cache-capacity")) // MIB}
            finally:
                close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
