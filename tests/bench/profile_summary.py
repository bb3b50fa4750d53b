"""Where a py-spy profile's time goes: inclusive and self shares of the hottest frames.

    python -m tests.bench.profile_summary PROFILE.txt [--top 40] [--match TEXT] [--observations N]

PROFILE.txt is py-spy's ``--format raw`` output (collapsed stacks, one per line with
its sample count), e.g. from ``bench_pipeline --py-spy``. ``--match`` restricts the
inclusive table to frames whose name contains TEXT (e.g. ``streams/``). The worker
categories put every sample in the first bucket whose marker occurs in its stack;
with ``--observations`` (and py-spy's ``--rate``) they are also given in µs of CPU
per observation.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def shares(stacks: list[tuple[list[str], int]]) -> tuple[Counter, Counter, int]:
    inclusive, own, total = Counter(), Counter(), 0
    for frames, count in stacks:
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return inclusive, own, total


# (bucket, markers): a sample goes to the first bucket with a marker anywhere in its stack.
WORKER_BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("startup (imports, topic/table setup)", ("_find_and_load", "App._on_first_start", "Recovery.")),
    ("logging: debug records built for the spinner handler", ("Logger.debug", "Logger._log", "LogRecord")),
    # read_observation_message: from_json + the header; validate_resource: the changed resources (Observer.screen_with_heads)
    ("agent: parse page (orjson + pydantic)", ("parse_observation_message", "parse_page", "read_observation_message",
                                              "validate_resource")),
    ("agent: output events (bytes, headers, OCSF copies, batches)", ("WorkerSinks.publish", "BatchedSends.flush",
                                                                     "dead_letter")),
    ("agent: store writes (RocksDB batch + changelog records)", ("VersionStore.append", "VersionStore.rewrite",
                                                                 "Changelogged.put", "record_applied")),
    ("agent: attribution (evidence, judging)", ("Attributor.",)),
    ("agent: analyzers (drift, patterns, waste)", ("Analyzers.", "waste_findings")),
    ("agent: store reads (RocksDB get/scan + decode)", ("VersionStore.head", "VersionStore.shard_member",
                                                        "VersionStore.last_scan", "applied (streams")),
    ("agent: decide (hash, diff, versions, edges, change events)", ("Observer.", "change_from_version")),
    ("agent: Faust stream/agent plumbing", ("Agent._execute_actor", "Stream.", "_py_aiter")),
    # Resumed coroutines show only their own frames: these are the producer buffer's task
    # (changelog records), the conductor waiting for it to ebb, and aiokafka's accumulator.
    ("changelog records: Faust producer buffer -> aiokafka", (
        "ProducerBuffer", "Topic.publish_message", "Topic._get_producer", "StampedeWrapper", "Topic._on_published",
        "wait_for (asyncio", "AIOKafkaProducer.send", "MessageAccumulator", "Producer.send")),
    ("aiokafka sender: produce requests, socket writes, acks", ("Sender.", "SendProduceReqHandler",
                                                                  "_on_changelog_sent", "set_persisted_offset")),
    ("consumer: fetch, decode records, conductor", ("Fetcher", "Conductor", "AIOKafkaConsumer",
                                                    "ThreadDelegateConsumer", "Consumer.getmany")),
    ("commit", ("commit", "Commit")),
    ("event loop / selector", ("select (selectors.py", "BaseEventLoop._run_once")),
]


def buckets(stacks: list[tuple[list[str], int]]) -> tuple[Counter, int]:
    found, total = Counter(), 0
    for frames, count in stacks:
        total += count
        text = ";".join(frames)
        found[next((name for name, marks in WORKER_BUCKETS if any(m in text for m in marks)), "other")] += count
    return found, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="")
    parser.add_argument("--observations", type=int, help="observations processed while sampled")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    args = parser.parse_args()
    stacks = load(args.profile)
    inclusive, own, total = shares(stacks)
    print(f"{total} samples")
    found, _ = buckets(stacks)
    print("\nworker buckets")
    for name, count in found.most_common():
        per = f"  {count / args.rate / args.observations * 1e6:7.1f} us/obs" if args.observations else ""
        print(f"{100 * count / total:6.1f}%{per}  {name}")
    print("\ninclusive")
    for frame, count in [(f, c) for f, c in inclusive.most_common() if args.match in f][:args.top]:
        print(f"{100 * count / total:6.1f}%  {frame}")
    print("\nself")
    for frame, count in own.most_common(args.top):
        print(f"{100 * count / total:6.1f}%  {frame}")


if __name__ == "__main__":
    main()
