"""The read side of the store benchmark: as-of, history, inventory, changes, retention.

Runs in its own process (see bench_store.py) on a store built there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from streams.store.kv import RocksKV
from streams.store.queries import InventoryFilter, TemporalQueries
from streams.store.records import Version
from streams.store.retention import enforce_retention
from streams.store.versioned import VersionStore, to_micros
from tests.bench.synthetic import ACCOUNTS

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def latencies(action: Callable[[str, datetime], object], cases: list[tuple[str, datetime]]) -> dict:
    from tests.bench.bench_store import percentiles

    samples = []
    for uid, moment in cases:
        started = time.perf_counter()
        action(uid, moment)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def changes_by_heads(store: VersionStore, start: datetime, end: datetime, heads: Iterator[Version]) -> int:
    """The alternative to the time index: heads newer than the window, then their histories."""
    t1, t2, found = to_micros(start), to_micros(end), 0
    for head in heads:
        if head.valid_from < t1:
            continue
        found += sum(1 for v in store.versions(head.uid) if t1 <= v.valid_from <= t2)
    return found


def peak_rss_mib() -> int:
    """This process's peak resident memory since exec (VmHWM; ru_maxrss would count the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def measure_reads(path: Path, days: int, t0: datetime, layout: dict) -> dict:
    started = peak_rss_mib()
    kv = RocksKV(path, **layout)
    store = VersionStore(kv)
    queries = TemporalQueries(store)
    uids = list(store.uids())
    rnd = random.Random(5)
    span = (days + 1) * DAY
    report = {"as_of": as_of_figures(queries, uids, rnd, t0, span)}
    history_cases = [(rnd.choice(uids), t0) for _ in range(2000)]
    report["history_full"] = latencies(lambda uid, _: queries.history(uid), history_cases)
    report["inventory"] = inventory_figures(queries, t0 + days * DAY / 2)
    report["changes_1h"] = changes_figures(store, queries, uids, t0, days)
    report["retention_one_day"] = retention_figures(store, t0)
    kv.close()
    report["peak_rss_mib"], report["interpreter_rss_mib"] = peak_rss_mib(), started
    return report


def as_of_figures(queries: TemporalQueries, uids: list[str], rnd: random.Random, t0: datetime,
                  span: timedelta) -> dict:
    random_moments = [(rnd.choice(uids), t0 + span * rnd.random()) for _ in range(20_000)]
    latest = [(rnd.choice(uids), t0 + span * 2) for _ in range(10_000)]
    return {"random_time_in_history": latencies(queries.as_of, random_moments),
            "now_head_answers": latencies(queries.as_of, latest)}


def inventory_figures(queries: TemporalQueries, moment: datetime) -> dict:
    """Mid-history: every head is newer than ``moment``, so every resource needs its history read."""
    figures = {}
    filters = {"whole": InventoryFilter(),
               "account_type_tag": InventoryFilter(account=ACCOUNTS[0], type="ec2.instance", tags={"env": "prod"})}
    for name, where in filters.items():
        seconds, found = timed(lambda where=where: sum(1 for _ in queries.inventory(moment, where)))
        figures[name] = {"seconds": round(seconds, 3), "resources": found}
    seconds, found = timed(lambda: sum(1 for _ in queries.inventory(moment + timedelta(days=400))))
    figures["now_heads_only"] = {"seconds": round(seconds, 3), "resources": found}
    return figures


def changes_figures(store: VersionStore, queries: TemporalQueries, uids: list[str], t0: datetime,
                    days: int) -> dict:
    middle = t0 + (days // 2) * DAY + 10 * HOUR + timedelta(minutes=30)  # not on a scan's hour
    seconds, found = timed(lambda: sum(1 for _ in queries.changes(middle, middle + HOUR)))
    figures = {"time_index": {"seconds": round(seconds, 4), "changes": found}}
    # Without the index, a window in the middle reads nearly every history: time a sample, scale up.
    sample = (store.head(uid) for uid in islice(uids, 0, None, 50))
    seconds, found = timed(lambda: changes_by_heads(store, middle, middle + HOUR, sample))
    figures["heads_then_histories"] = {"seconds_extrapolated": round(seconds * 50, 2),
                                       "changes_extrapolated": found * 50}
    last = t0 + (days - 1) * DAY + 22 * HOUR + timedelta(minutes=30)
    seconds, found = timed(lambda: sum(1 for _ in queries.changes(last, last + HOUR)))
    figures["last_hour_time_index"] = {"seconds": round(seconds, 4), "changes": found}
    seconds, found = timed(lambda: changes_by_heads(store, last, last + HOUR, store.heads()))
    figures["last_hour_heads_then_histories"] = {"seconds": round(seconds, 3), "changes": found}
    return figures


def retention_figures(store: VersionStore, t0: datetime) -> dict:
    """The steady state of a 30-day window: a day of versions falls out and each drops its predecessor.

    A first run takes the cursor past day 0 (creations: nothing to drop); the timed run
    then covers day 1, what a daily run has to do for this inventory.
    """
    window = timedelta(days=30)
    enforce_retention(store, window, t0 + DAY + window, budget=10_000_000)
    seconds, report = timed(lambda: enforce_retention(store, window, t0 + 2 * DAY + window, budget=10_000_000))
    return {"seconds": round(seconds, 2), "entries": report.scanned, "versions_dropped": report.versions_dropped,
            "entries_per_s": round(report.scanned / seconds), "caught_up": report.caught_up}
