"""Benchmark of the embedded MVCC store: build, ingest, time-travel queries, retention, disk.

Run: ``python -m tests.bench.bench_store [--resources 100000] [--versions 30] [--dir PATH]``.
Prints one JSON object on stdout (progress on stderr). Not a test: nothing asserts.

The store is built through the Observer (the real write path and layout): one
version per resource per day for ``--versions`` days, each resource changing at its
own hour, as hourly scans would see it. Reads run in a fresh process so its
resident memory is the store's and the queries', not the generator's.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.observe import Observer
from streams.store.kv import BLOCK_SIZE, BOTTOMMOST_COMPRESSION, COMPRESSION, RocksKV
from streams.store.versioned import VersionStore
from tests.bench.synthetic import base_resources, pages, revised

T0 = datetime(2026, 10, 1, tzinfo=UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(observer: Observer, base: list, days: int) -> dict:
    """Every resource changes once a day at hour ``n % 24``: ``days`` versions each."""
    wall, cpu, versions = time.perf_counter(), time.thread_time(), 0
    by_hour = [base[h::24] for h in range(24)]
    for day in range(days):
        for hour, members in enumerate(by_hour):
            batch = members if day == 0 else [revised(r, day) for r in members]
            for page in pages(batch, T0 + day * DAY + hour * HOUR, scan_id=f"build-{day}-{hour}"):
                versions += len(observer.observe(page))
        if day % 5 == 4 or day == days - 1:
            log(f"built day {day + 1}/{days}: {versions} versions")
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return {"versions": versions, "seconds": round(wall, 1), "versions_per_s": round(versions / wall),
            "thread_cpu_us_per_version": round(cpu / versions * 1e6, 1)}


class Rescans:
    """Full scans after the build: each finds ``changed_share`` of the resources changed."""

    def __init__(self, base: list, days: int, changed_share: float = 0.1) -> None:
        self.current = [revised(r, days - 1) if days > 1 else r for r in base]
        self.days, self.share, self.rnd, self.done = days, changed_share, random.Random(11), 0

    def ingest(self, observer: Observer) -> dict:
        """One scan, observed in pages of 500 (Observer.observe), timed."""
        revision = self.days + self.done
        self.current = [revised(r, revision) if self.rnd.random() < self.share else r for r in self.current]
        batch = pages(self.current, T0 + revision * DAY + 12 * HOUR, scan_id=f"rescan-{self.done}", size=500)
        self.done += 1
        gc.freeze()  # the generated pages are the bench's, not the Observer's: keep them out of GC passes
        wall, cpu = time.perf_counter(), time.thread_time()
        changes = sum(len(observer.observe(page)) for page in batch)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        count = len(self.current)
        return {"observations": count, "pages": len(batch), "changes": changes, "seconds": round(wall, 2),
                "observations_per_s": round(count / wall), "thread_cpu_us_per_observation": round(cpu / count * 1e6, 1)}


def disk_bytes(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()[0])


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_us": round(pick(0.50) * 1e6, 1), "p99_us": round(pick(0.99) * 1e6, 1),
            "max_us": round(ordered[-1] * 1e6, 1), "n": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=30, help="versions per resource (one a day)")
    parser.add_argument("--dir", type=Path, default=None, help="where to build the store (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards")
    parser.add_argument("--compression", default=COMPRESSION, help="snappy, lz4, zstd, none")
    parser.add_argument("--bottommost", default=BOTTOMMOST_COMPRESSION, help="compression of the last level")
    parser.add_argument("--block-size", type=int, default=BLOCK_SIZE, help="RocksDB block size in bytes")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="elava-bench-"))
    store_path = workdir / "store"
    shutil.rmtree(store_path, ignore_errors=True)
    try:
        layout = {"compression": args.compression, "bottommost_compression": args.bottommost,
                  "block_size": args.block_size}
        report = run(store_path, args.resources, args.versions, layout)
    finally:
        if not args.keep:
            shutil.rmtree(store_path if args.dir else workdir, ignore_errors=True)
    print(json.dumps(report, indent=1))


def run(store_path: Path, count: int, days: int, layout: dict) -> dict:
    from tests.bench.disk import compression_comparison

    report: dict = {"resources": count, "versions_per_resource": days, **layout, "load_at_start": os.getloadavg()}
    log(f"generating {count} resources")
    base = base_resources(count)
    gc.freeze()  # 100k generated resources held for the whole run: not the store's cost
    kv = RocksKV(store_path, **layout)
    observer, rescans = Observer(VersionStore(kv)), Rescans(base, days)
    report["build"] = build(observer, base, days)
    report["ingest_right_after_build"] = rescans.ingest(observer)  # RocksDB still compacting the build
    started = time.perf_counter()
    kv.compact()
    report["compact_seconds"] = round(time.perf_counter() - started, 1)
    report["ingest_compacted"] = rescans.ingest(observer)
    log(f"ingest: {report['ingest_right_after_build']} then {report['ingest_compacted']}")
    kv.compact()
    kv.close()
    stored = report["build"]["versions"] + sum(report[k]["changes"] for k in ("ingest_right_after_build",
                                                                             "ingest_compacted"))
    size = disk_bytes(store_path)
    report["disk"] = {"bytes": size, "bytes_per_version": round(size / stored), "versions": stored}
    # The writer's peak includes the generated resources (~100k Python objects), not only the store.
    report["writer_maxrss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    del base, observer, rescans
    log("reads, in a fresh process")
    report["reads"] = reads_in_child(store_path, days, layout)
    log("compression and snapshot/diff comparison on a sample")
    report["layout_alternatives"] = compression_comparison(store_path, sample_uids=1000)
    report["load_at_end"] = os.getloadavg()
    return report


def reads_in_child(store_path: Path, days: int, layout: dict) -> dict:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(read_measurements, (str(store_path), days, layout))


def read_measurements(path: str, days: int, layout: dict) -> dict:
    from tests.bench.reads import measure_reads

    return measure_reads(Path(path), days, T0, layout)


if __name__ == "__main__":
    main()
