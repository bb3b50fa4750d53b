"""The garbage collector of Elava's long-running processes (worker, policy stage, evaluating child,
fleet-pattern stage) and of the embedded driver.

Each reads pages or records of hundreds of parsed dicts that live until the message is
handled. At Python's default (a young collection every 700 allocations) those were walked
and promoted by the thousand, and swelled the older generations' collections: GC took
0.48-0.58 s of ~10 s of the worker's CPU, 0.23 of 3.4 s of the policy stage's and 0.10 of
2.5 s of its evaluating child's, over a 20,000-resource, 3-round pipeline run; 0.18-0.20,
0.03 and 0.01 s with the thresholds below (docs/benchmarks.md). Short-lived cycles are
still collected, by the young generation.

The embedded driver (`elava scan`, `watch`, `demo`) keeps what a scan lists and produces until
it ends, so its heap grows by the page: at Python's thresholds GC took 18.7-19.6 s of a
100,000-resource, 4-round run of the pipeline benchmark's embedded driver, 7.6-7.7 s at the
thresholds below (docs/benchmarks.md). It only sets them (``tune_collector``): it does not
freeze, as a process may run it again (`elava watch`, tests), and a frozen object that later
becomes garbage in a cycle is never collected. Its middle generation is collected far more
rarely (``SCAN_THRESHOLDS``): what a scan keeps passes through it, and each of its collections
walked all of it again to free nothing (0 objects in each of the 5 of a 100,000-resource round,
0.89-0.97 s of its ~24 s of CPU, docs/benchmarks.md).
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 20, 100)  # gc.set_threshold: young, middle, old (Python's: 700, 10, 10)
# The embedded driver's: the young generation as often, the middle one every 1,000 young
# collections (20 million allocations: cycles are still freed, later), the old one every 10 of those.
SCAN_THRESHOLDS = (20_000, 1_000, 10)


def settle_heap() -> None:
    """Once started: what exists lives as long as the process (frozen, no longer walked by every
    full collection), and the young generation is collected every ``THRESHOLDS[0]`` allocations."""
    gc.collect()
    gc.freeze()
    tune_collector()


def tune_collector(thresholds: tuple[int, int, int] = THRESHOLDS) -> None:
    """Collect the young generation every ``thresholds[0]`` allocations (and the older ones
    in proportion): a process that allocates by the page spends less time walking the heap."""
    gc.set_threshold(*thresholds)
