"""The read-only query API as plain functions: query parameters in, (status, JSON) out.

The worker serves them over HTTP (`streams/drivers/worker/web.py`, `streams/drivers/worker/cluster.py`) and the CLI
calls them on the embedded store (`elava/cli/remote.py`); they are plain so they can be
tested without a web server. A ``uid`` may be a resource's id where that names one
resource (as in the CLI): `answer_found` says which uids it named, so that answers from
several workers' partitions can be merged (`streams/store/merge.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elava.events import utcnow
from elava.settings import AnalyzerSettings
from elava.timeparse import parse_time
from streams.analyzers.drift import DriftAnalyzer
from streams.analyzers.fleet import fleet_inputs, item_json
from streams.analyzers.reports import (
    SEVERITIES,
    chosen_patterns,
    drift_of_version,
    drift_report,
    kept_patterns,
    pattern_report,
)
from streams.store.openapi import OPENAPI
from streams.store.queries import InventoryFilter, TemporalQueries
from streams.store.records import Version
from streams.store.relation_walk import related_walk, run_on, subject_of
from streams.store.relations import MAX_DEPTH, relations_json
from streams.store.render_json import inventory_json, net_change_json, version_json, who_json
from streams.store.versioned import to_micros
from streams.store.waste import WasteFilter, current_findings

Answer = tuple[int, Any]
LIMIT = 1000
MAX_LIMIT = 100_000


class BadRequest(ValueError):
    pass


def _moment(params: Mapping[str, str], name: str, default: datetime | None = None) -> datetime | None:
    text = params.get(name)
    if not text:
        return default
    try:
        return parse_time(text, now=utcnow())
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from exc


def limit_of(params: Mapping[str, str]) -> int:
    try:
        return max(1, min(int(params.get("limit", LIMIT)), MAX_LIMIT))
    except ValueError as exc:
        raise BadRequest("limit: not a number") from exc


def _uid(params: Mapping[str, str]) -> str:
    uid = params.get("uid")
    if not uid:
        raise BadRequest("uid is required")
    return uid


def unresolved(ref: str, uids: Sequence[str]) -> Answer:
    """The answer when ``ref`` names no resource, or several (then they are listed)."""
    if not uids:
        return 404, {"error": f"no resource {ref!r} in the store (never seen, or removed by retention)"}
    shown = ", ".join(sorted(uids)[:5])
    return 409, {"error": f"{ref!r} names {len(uids)} resources; give the uid: {shown}", "uids": sorted(uids)}


def resource(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    uid = _uid(params)
    version = q.as_of(uid, _moment(params, "at", utcnow()))
    if version is None:
        return 404, {"error": f"{uid} did not exist then (or is not held by this worker)"}
    return 200, version_json(version, q.subject(version))


def history(q: TemporalQueries, params: Mapping[str, str], analyzer: AnalyzerSettings) -> Answer:
    versions = q.history(_uid(params), _moment(params, "since"), _moment(params, "until"))
    drift = DriftAnalyzer(analyzer.drift) if analyzer.drift.enabled else None
    return 200, [{**version_json(v, q.subject(v)), "drift": _drift_json(drift, v)} for v in versions]


def _drift_json(drift: DriftAnalyzer | None, version: Version) -> dict[str, Any] | None:
    found = drift_of_version(drift, version) if drift is not None else None
    return found.model_dump(mode="json") if found is not None else None


def who(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    return 200, [who_json(row) for row in q.who(_uid(params), _moment(params, "since"), _moment(params, "until"))]


def _tags(params: Mapping[str, str]) -> dict[str, str]:
    text, tags = params.get("tag"), {}
    for pair in text.split(",") if text else []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadRequest(f"tag: expected key=value[,key=value], got {text!r}")
        tags[key] = value
    return tags


def _where(params: Mapping[str, str]) -> InventoryFilter:
    return InventoryFilter(params.get("account"), params.get("region"), params.get("type"), _tags(params))


def inventory(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    limit, rows, at, where = limit_of(params), [], _moment(params, "at", utcnow()), _where(params)
    if params.get("uid"):  # one resource, if it existed then and matches
        found = q.as_of(params["uid"], at)
        return 200, [inventory_json(found)] if found is not None and where.matches(found.resource or {}) else []
    for version in q.inventory(at, where):
        if len(rows) == limit:
            break
        rows.append(inventory_json(version))
    return 200, rows


def _window(params: Mapping[str, str]) -> tuple[datetime, datetime]:
    since = _moment(params, "since")
    if since is None:
        raise BadRequest("since is required")
    until = _moment(params, "until", utcnow())
    if until < since:
        raise BadRequest("until: before since")
    return since, until


def changes(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    since, until = _window(params)
    limit, rows = limit_of(params), []
    for version in q.changes(since, until, _where(params), params.get("uid")):
        if len(rows) == limit:
            break
        rows.append(version_json(version, q.subject(version)))
    return 200, rows


def diff(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    since, until = _window(params)
    limit, rows = limit_of(params), []
    for found in q.diff(since, until, _where(params), params.get("uid")):
        if len(rows) == limit:
            break
        rows.append(net_change_json(found))
    return 200, rows


def depth_of(params: Mapping[str, str]) -> int:
    depth = params.get("depth", "1")
    if not depth.isdigit() or not 1 <= int(depth) <= MAX_DEPTH:
        raise BadRequest(f"depth: a whole number from 1 to {MAX_DEPTH}")
    return int(depth)


def related(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    at = to_micros(_moment(params, "at", utcnow()))
    return 200, relations_json(run_on(q.store, related_walk(_uid(params), at, depth_of(params))))


def related_request(params: Mapping[str, str]) -> tuple[str, int, int]:
    """A /v1/related request checked as `answer_found` checks it: (uid or id, at, depth)."""
    _known_only("/v1/related", params)
    return _uid(params), to_micros(_moment(params, "at", utcnow())), depth_of(params)


def waste(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    where = WasteFilter(params.get("type"), params.get("reason"), params.get("account"), params.get("region"))
    return 200, [f.model_dump(mode="json") for f in current_findings(q.store.kv, where)][:limit_of(params)]


# Drift and patterns look back a day unless told otherwise.
FINDINGS_SINCE = timedelta(days=1)


def _findings_window(params: Mapping[str, str]) -> tuple[datetime, datetime]:
    until = _moment(params, "until", utcnow())
    return _moment(params, "since", until - FINDINGS_SINCE), until


def drift(q: TemporalQueries, params: Mapping[str, str], analyzer: AnalyzerSettings) -> Answer:
    severity = params.get("severity", "info")
    if severity not in SEVERITIES:
        raise BadRequest(f"severity: one of {', '.join(SEVERITIES)}")
    found = drift_report(q.store, *_findings_window(params), severity, params.get("type") or "*", analyzer.drift)
    return 200, [d.model_dump(mode="json") for d in found[:limit_of(params)]]


def patterns(q: TemporalQueries, params: Mapping[str, str], analyzer: AnalyzerSettings) -> Answer:
    found = pattern_report(q.store, *_findings_window(params), analyzer.patterns, params.get("pattern") or None)
    return 200, [p.model_dump(mode="json") for p in found[:limit_of(params)]]


def patterns_part(q: TemporalQueries, params: Mapping[str, str], analyzer: AnalyzerSettings) -> Answer:
    """Some partitions' share of /v1/patterns: the patterns kept with their versions, and the
    versions the patterns across resources are found in (merge.py finds those on the whole)."""
    since, until = _findings_window(params)
    kept = chosen_patterns(kept_patterns(q.store, since, until), params.get("pattern") or None)
    return 200, {"kept": [p.model_dump(mode="json") for p in kept[:limit_of(params)]], "since": since.isoformat(),
                 "fleet": [item_json(item) for item in fleet_inputs(q.store, since, until, analyzer.patterns)]}


ROUTES: dict[str, Callable[[TemporalQueries, Mapping[str, str]], Answer]] = {
    "/v1/resource": resource, "/v1/who": who,
    "/v1/inventory": inventory, "/v1/changes": changes, "/v1/diff": diff, "/v1/related": related, "/v1/waste": waste,
}
# Answers that depend on the analyzer settings (drift is derived on read; fleet patterns' thresholds are not stored).
FINDING_ROUTES: dict[str, Callable[[TemporalQueries, Mapping[str, str], AnalyzerSettings], Answer]] = {
    "/v1/history": history, "/v1/drift": drift, "/v1/patterns": patterns,
}
# A worker asked for its partitions answers these with a share the merge completes.
PART_ROUTES: dict[str, Callable[[TemporalQueries, Mapping[str, str], AnalyzerSettings], Answer]] = {
    "/v1/patterns": patterns_part,
}
ENDPOINTS = (*ROUTES, *FINDING_ROUTES)


# What each endpoint accepts, from its OpenAPI description (one home for the fact).
ACCEPTED = {path: frozenset(p["name"] for p in OPENAPI["paths"][path]["get"]["parameters"]) for path in ENDPOINTS}


def _known_only(path: str, params: Mapping[str, str]) -> None:
    """A misspelt filter must not answer as if there were none."""
    unknown = sorted(set(params) - ACCEPTED[path])
    if unknown:
        raise BadRequest(f"unknown parameter(s) {', '.join(unknown)}; {path} takes {', '.join(sorted(ACCEPTED[path]))}")


TIMES = frozenset({"at", "since", "until"})


@dataclass(frozen=True)
class Found:
    """One store's answer, and the uids its ``uid`` parameter named there."""

    status: int
    body: Any
    uids: tuple[str, ...] = ()


def answer_found(path: str, queries: TemporalQueries, params: Mapping[str, str],
                 analyzer: AnalyzerSettings | None = None, *, part: bool = False) -> Found:
    """One store's answer; ``part``: as one worker's share of the group's (PART_ROUTES)."""
    handler = _handler(path, analyzer or AnalyzerSettings(), part)
    if handler is None:
        return Found(404, {"error": f"no such endpoint {path}"})
    try:
        _known_only(path, params)
        for name in TIMES & set(params):  # a malformed time is named before any lookup
            _moment(params, name)
        if path == "/v1/related":
            depth_of(params)
        ref = params.get("uid")
        uids = tuple(queries.resolve(ref)) if ref else ()
        subject = _subject(path, ref, uids)
        if ref and subject is None:
            return Found(*unresolved(ref, uids), uids)
        return Found(*handler(queries, {**params, "uid": subject} if ref else params), uids)
    except BadRequest as exc:
        return Found(400, {"error": str(exc)})


def _handler(path: str, analyzer: AnalyzerSettings, part: bool) -> Callable[[TemporalQueries, Mapping[str, str]], Answer] | None:
    finding = (PART_ROUTES.get(path) if part else None) or FINDING_ROUTES.get(path)
    if finding is not None:
        return lambda q, params: finding(q, params, analyzer)
    return ROUTES.get(path)


def _subject(path: str, ref: str | None, uids: Sequence[str]) -> str | None:
    if path == "/v1/related" and ref:  # what uses an ARN Elava does not observe (an instance profile)
        return subject_of(ref, uids)
    return uids[0] if len(uids) == 1 else None


def answer(path: str, queries: TemporalQueries, params: Mapping[str, str],
           analyzer: AnalyzerSettings | None = None) -> Answer:
    found = answer_found(path, queries, params, analyzer)
    return found.status, found.body
