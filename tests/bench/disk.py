"""Bytes per version under other layouts: block compression, block size, snapshots + diffs.

Copies the version records of a sample of resources from the built store into fresh
RocksDB directories, one per variant, compacts each and measures it with ``du``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import orjson

from streams.store.kv import RocksKV

SNAPSHOT_EVERY = 10


def sample_records(store_path: Path, sample_uids: int) -> list[tuple[bytes, bytes]]:
    """The version records (``v`` keys) of the first ``sample_uids`` resources."""
    kv = RocksKV(store_path, read_only=True)
    try:
        records, uids = [], set()
        for key, value in kv.scan(b"v\x00"):
            uid = key[2:-5]
            if uid not in uids:
                if len(uids) == sample_uids:
                    break
                uids.add(uid)
            records.append((key, value))
        return records
    finally:
        kv.close()


def time_index_sample(store_path: Path, count: int) -> list[tuple[bytes, bytes]]:
    kv = RocksKV(store_path, read_only=True)
    try:
        return [item for item, _ in zip(kv.scan(b"t\x00"), range(count), strict=False)]
    finally:
        kv.close()


def as_diffs(records: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A full snapshot every SNAPSHOT_EVERY versions, only the diff in between."""
    result = []
    for key, value in records:
        version = int.from_bytes(key[-4:], "big")
        if (version - 1) % SNAPSHOT_EVERY:
            record = orjson.loads(value)
            record["resource"] = None
            value = orjson.dumps(record)
        result.append((key, value))
    return result


def bytes_on_disk(records: list[tuple[bytes, bytes]], compression: str, block_size: int | None) -> int:
    import rocksdict

    from tests.bench.bench_store import disk_bytes

    directory = Path(tempfile.mkdtemp(prefix="elava-variant-"))
    try:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_compression_type(getattr(rocksdict.DBCompressionType, compression)())
        if block_size:
            table = rocksdict.BlockBasedOptions()
            table.set_block_size(block_size)
            options.set_block_based_table_factory(table)
        db = rocksdict.Rdict(str(directory / "db"), options=options)
        for key, value in records:
            db.put(key, value)
        db.flush()
        db.compact_range(None, None)
        db.close()
        return disk_bytes(directory / "db")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def compression_comparison(store_path: Path, sample_uids: int) -> dict:
    records = sample_records(store_path, sample_uids)
    diffs = as_diffs(records)
    raw = sum(len(k) + len(v) for k, v in records)
    figures = {"sample_versions": len(records), "raw_bytes_per_version": round(raw / len(records))}
    variants = {
        "full_none": (records, "none", None), "full_snappy": (records, "snappy", None),
        "full_lz4": (records, "lz4", None), "full_zstd": (records, "zstd", None),
        "full_zstd_16k_blocks": (records, "zstd", 16384),
        f"snapshot_every_{SNAPSHOT_EVERY}_plus_diffs_snappy": (diffs, "snappy", None),
        f"snapshot_every_{SNAPSHOT_EVERY}_plus_diffs_zstd": (diffs, "zstd", None),
    }
    for name, (data, compression, block_size) in variants.items():
        figures[name] = round(bytes_on_disk(data, compression, block_size) / len(data))
    entries = time_index_sample(store_path, len(records))
    figures["time_index_entry_snappy"] = round(bytes_on_disk(entries, "snappy", None) / len(entries))
    return {"bytes_per_version": figures}
