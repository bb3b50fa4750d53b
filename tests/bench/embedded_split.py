"""What a scan would make of a second core if its shards were split over processes.

    python -m tests.bench.embedded_split [--groups 2] [--resources 100000] [--rounds 4] [--no-policies]

The embedded driver is bound by its one process (docs/benchmarks.md, "Proposed next",
item 19). This runs the pipeline benchmark's rounds through it twice, side by side in one
run: once whole in one process (as `elava scan` runs now), then split by shard into
``--groups`` processes started together, each over a store of its own and with its own
policies' process (tests/bench/pipeline_embedded.py ``--shard-group``). Not a product mode:
a split scan would also hand each process its pages as bytes, parsed there, so each
group's wall is also reported with its parse CPU added (``wall_with_parse_s``), and the
outputs' way back to one process is not counted at all. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modified", type=float, default=0.1)
    parser.add_argument("--shard-buckets", type=int, default=16)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--no-policies", action="store_true")
    return parser.parse_args(argv)


def run_groups(args: argparse.Namespace, groups: int, work: Path) -> dict:
    """``groups`` drivers, each on its shard group, started at once when all have built their rounds."""
    go = work / f"go-{groups}"
    command = [sys.executable, "-m", "tests.bench.pipeline_embedded", "--resources", str(args.resources),
               "--rounds", str(args.rounds), "--modified", str(args.modified),
               "--shard-buckets", str(args.shard_buckets), "--page-size", str(args.page_size),
               *(["--no-policies"] if args.no_policies else []), "--go", str(go)]
    readies = [work / f"ready-{groups}-{k}" for k in range(groups)]
    drivers = [subprocess.Popen([*command, "--shard-group", f"{k}/{groups}", "--ready", str(readies[k]),
                                 "--work-dir", str(work / f"store-{groups}-{k}")], cwd=ROOT, stdout=subprocess.PIPE)
               for k in range(groups)]
    while not all(ready.exists() for ready in readies):
        if any(driver.poll() is not None for driver in drivers):
            raise SystemExit("a driver exited before its rounds were built")
        time.sleep(0.05)
    started = time.perf_counter()
    go.touch()
    parts = [json.loads(driver.communicate()[0]) for driver in drivers]
    if any(driver.returncode for driver in drivers):
        raise SystemExit("a driver failed")
    return summary(parts, time.perf_counter() - started)


def summary(parts: list[dict], since_go: float) -> dict:
    """The groups together: the slowest group's rounds are the scan's wall."""
    for part in parts:
        part["wall_with_parse_s"] = round(part["wall_s"] + part["pydantic_parse_us_per_observation"]
                                          * part["observations"] / 1e6, 2)
    observations = sum(part["observations"] for part in parts)
    wall = max(part["wall_s"] for part in parts)
    with_parse = max(part["wall_with_parse_s"] for part in parts)
    return {"groups": len(parts), "observations": observations, "wall_s": round(wall, 2),
            "observations_per_s": round(observations / wall),
            "wall_with_parse_s": with_parse, "observations_per_s_with_parse": round(observations / with_parse),
            "since_go_s": round(since_go, 2),
            "parts": [{key: part[key] for key in ("observations", "changes", "wall_s", "wall_with_parse_s", "cpu_s")}
                      | {"round_wall_s": [r["wall_s"] for r in part["rounds"]]} for part in parts]}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="elava-split-") as tmp:
        one = run_groups(args, 1, Path(tmp))
        split = run_groups(args, args.groups, Path(tmp))
    print(json.dumps({"policies": not args.no_policies, "one_process": one, "split": split,
                      "speedup": round(split["observations_per_s"] / one["observations_per_s"], 3),
                      "speedup_with_parse": round(split["observations_per_s_with_parse"]
                                                  / one["observations_per_s"], 3)}))


if __name__ == "__main__":
    main()
