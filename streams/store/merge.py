"""One answer from several: each worker answers for the partitions it holds, and any
worker merges their answers into the group's (streams/drivers/worker/cluster.py asks them).

A resource lives in exactly one partition, so a query about one resource (``uid``) is
answered by the one worker whose partitions hold it: the others' stores name no such
resource. An id names a resource in one worker and maybe another in a second worker:
the uids every worker resolved are pooled, and the answer says "give the uid" as one
store would. A list (inventory, changes, diff) is sorted the same way in every store,
so the lists are merged in that order and cut at ``limit``: the first ``limit`` of the
whole are among the first ``limit`` of each.

Drift is a list like those. Patterns across resources (a name re-created, an actor's
burst) span partitions: each worker sends its share — the patterns it kept and the
window's versions such patterns are found in — and the merge finds them on the whole
(`SHARES`). `related` walks edges across partitions, a round of questions per level:
streams/drivers/worker/cluster.py drives it (streams/store/relation_walk.py), not this merge.

Adding an endpoint whose answer is a list: say here how it is sorted (`LISTS`); one
about a single resource takes ``uid`` and needs nothing (tests/unit/streams/
test_merge.py checks every route is one or the other).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from elava.analyzer_events import PatternEvent
from elava.settings import AnalyzerSettings
from streams.analyzers.fleet import item_from_json, patterns_across
from streams.analyzers.reports import chosen_patterns
from streams.store.api import Answer, Found, limit_of, unresolved

SortKey = Callable[[dict[str, Any]], Any]


def _by_uid(row: dict[str, Any]) -> Any:
    return row["uid"]


def _by_time(row: dict[str, Any]) -> Any:
    # The time index's order: when the version began, then uid and version number.
    return datetime.fromisoformat(row["valid_from"]), row["uid"], row["version"]


def _by_rule(row: dict[str, Any]) -> Any:
    return row["type"], row["pattern"], row["uid"]


def _by_detection(row: dict[str, Any]) -> Any:
    # reports.drift_order, on the JSON of a drift event.
    return datetime.fromisoformat(row["detected_at"]), row["uid"], row.get("version") or 0, row["event_id"]


# How each list endpoint's items are sorted in one store (and so in the merged answer).
LISTS: dict[str, SortKey] = {"/v1/inventory": _by_uid, "/v1/changes": _by_time, "/v1/diff": _by_uid,
                             "/v1/waste": _by_rule, "/v1/drift": _by_detection}


def merge(path: str, params: Mapping[str, str], answers: Sequence[Found],
          analyzer: AnalyzerSettings | None = None) -> Answer:
    """The group's answer to ``path?params`` from each worker's answer for its partitions."""
    if not answers:
        raise ValueError("nothing to merge: at least one worker answers")
    refused = next((a for a in answers if a.status == 400), None) or next(
        (a for a in answers if a.status == 404 and not a.uids and "uid" not in params), None)
    if refused is not None:  # a bad parameter, or no such endpoint: every worker says the same
        return refused.status, refused.body
    if path in SHARES:
        return 200, SHARES[path](params, [a.body for a in answers], analyzer or AnalyzerSettings())
    ref = params.get("uid")
    if ref:
        return _one_resource(ref, answers)
    return 200, merged_list(LISTS[path], (a.body for a in answers), limit_of(params))


def _patterns(params: Mapping[str, str], shares: Sequence[dict[str, Any]], analyzer: AnalyzerSettings) -> list:
    """Patterns of one resource as each worker kept them; those across resources found on
    every worker's versions of the window (a name re-created, an actor's burst, span partitions)."""
    kept = [PatternEvent.model_validate(p) for share in shares for p in share["kept"]]
    items = sorted((item_from_json(v) for share in shares for v in share["fleet"]), key=lambda item: item.order)
    since = min(datetime.fromisoformat(share["since"]) for share in shares)
    found = chosen_patterns(kept + patterns_across(items, since, analyzer.patterns), params.get("pattern") or None)
    return [p.model_dump(mode="json") for p in found[:limit_of(params)]]


# Endpoints whose workers answer with a share (api.PART_ROUTES) that the merge completes.
SHARES: dict[str, Callable[[Mapping[str, str], Sequence[Any], AnalyzerSettings], Any]] = {"/v1/patterns": _patterns}


def _one_resource(ref: str, answers: Sequence[Found]) -> Answer:
    uids = sorted({uid for answer in answers for uid in answer.uids})
    if len(uids) != 1:
        return unresolved(ref, uids)
    holder = next(a for a in answers if a.uids == (uids[0],))
    return holder.status, holder.body


def merged_list(key: SortKey, lists: Iterable[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    return list(islice(heapq.merge(*lists, key=key), limit))


def incomplete(problem: str) -> Answer:
    """The group's answer when some partition went unanswered: never a partial one."""
    return 503, {"error": f"the workers cannot answer for every partition now ({problem}); ask again"}


def coverage_problem(answered: Sequence[Iterable[int]], partitions: int) -> str | None:
    """None if the answers cover every partition exactly once; otherwise what is wrong."""
    seen: set[int] = set()
    twice: set[int] = set()
    for held in answered:
        held = set(held)
        twice |= seen & held
        seen |= held
    missing = set(range(partitions)) - seen
    if missing:
        return f"no answer for partition(s) {', '.join(map(str, sorted(missing)))}"
    if twice:
        return f"partition(s) {', '.join(map(str, sorted(twice)))} answered twice"
    return None
