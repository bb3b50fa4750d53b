"""The read-only query API as plain functions: query parameters in, (status, JSON) out.

The worker serves them over HTTP (`streams/app.py`); they are plain so they can be
tested without a web server. Each worker answers for the partitions it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from elava.events import utcnow
from elava.settings import AnalyzerSettings
from elava.timeparse import parse_time
from streams.analyzers.reports import SEVERITIES, drift_report, pattern_report
from streams.store.findings import Findings
from streams.store.openapi import OPENAPI
from streams.store.queries import InventoryFilter, TemporalQueries
from streams.store.relations import MAX_DEPTH, RelationQueries, relations_json
from streams.store.render_json import inventory_json, net_change_json, version_json, who_json
from streams.store.waste import WasteFilter, current_findings

Answer = tuple[int, Any]
LIMIT = 1000


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


def _limit(params: Mapping[str, str]) -> int:
    try:
        return max(1, min(int(params.get("limit", LIMIT)), 100_000))
    except ValueError as exc:
        raise BadRequest("limit: not a number") from exc


def _uid(params: Mapping[str, str]) -> str:
    uid = params.get("uid")
    if not uid:
        raise BadRequest("uid is required")
    return uid


def resource(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    uid = _uid(params)
    version = q.as_of(uid, _moment(params, "at", utcnow()))
    if version is None:
        return 404, {"error": f"{uid} did not exist then (or is not held by this worker)"}
    return 200, version_json(version, q.subject(version))


def history(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    versions = q.history(_uid(params), _moment(params, "since"), _moment(params, "until"))
    findings = Findings(q.store)
    return 200, [{**version_json(v, q.subject(v)), "drift": _drift_json(findings, v.uid, v.version)} for v in versions]


def _drift_json(findings: Findings, uid: str, version: int) -> dict[str, Any] | None:
    found = findings.drift_of(uid, version)
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
    limit, rows = _limit(params), []
    for version in q.inventory(_moment(params, "at", utcnow()), _where(params)):
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
    limit, rows = _limit(params), []
    for version in q.changes(since, until, _where(params), params.get("uid")):
        if len(rows) == limit:
            break
        rows.append(version_json(version, q.subject(version)))
    return 200, rows


def diff(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    since, until = _window(params)
    limit, rows = _limit(params), []
    for found in q.diff(since, until, _where(params), params.get("uid")):
        if len(rows) == limit:
            break
        rows.append(net_change_json(found))
    return 200, rows


def related(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    uid, depth = _uid(params), params.get("depth", "1")
    if not depth.isdigit() or not 1 <= int(depth) <= MAX_DEPTH:
        raise BadRequest(f"depth: a whole number from 1 to {MAX_DEPTH}")
    return 200, relations_json(RelationQueries(q.store).related(uid, _moment(params, "at", utcnow()), int(depth)))


def waste(q: TemporalQueries, params: Mapping[str, str]) -> Answer:
    where = WasteFilter(params.get("type"), params.get("reason"), params.get("account"), params.get("region"))
    return 200, [f.model_dump(mode="json") for f in current_findings(q.store.kv, where)][:_limit(params)]


# Drift and patterns look back a day unless told otherwise.
FINDINGS_SINCE = timedelta(days=1)


def _findings_window(params: Mapping[str, str]) -> tuple[datetime, datetime]:
    until = _moment(params, "until", utcnow())
    return _moment(params, "since", until - FINDINGS_SINCE), until


def drift(q: TemporalQueries, params: Mapping[str, str], analyzer: AnalyzerSettings) -> Answer:
    severity = params.get("severity", "info")
    if severity not in SEVERITIES:
        raise BadRequest(f"severity: one of {', '.join(SEVERITIES)}")
    found = drift_report(q.store, *_findings_window(params), severity, params.get("type") or "*")
    return 200, [d.model_dump(mode="json") for d in found[:_limit(params)]]


def patterns(q: TemporalQueries, params: Mapping[str, str], analyzer: AnalyzerSettings) -> Answer:
    found = pattern_report(q.store, *_findings_window(params), analyzer.patterns, params.get("pattern") or None)
    return 200, [p.model_dump(mode="json") for p in found[:_limit(params)]]


ROUTES: dict[str, Callable[[TemporalQueries, Mapping[str, str]], Answer]] = {
    "/v1/resource": resource, "/v1/history": history, "/v1/who": who,
    "/v1/inventory": inventory, "/v1/changes": changes, "/v1/diff": diff, "/v1/related": related, "/v1/waste": waste,
}
# Answers that depend on the analyzer settings (severity rules are stored; fleet patterns' thresholds are not).
FINDING_ROUTES: dict[str, Callable[[TemporalQueries, Mapping[str, str], AnalyzerSettings], Answer]] = {
    "/v1/drift": drift, "/v1/patterns": patterns,
}


# What each endpoint accepts, from its OpenAPI description (one home for the fact).
ACCEPTED = {path: frozenset(p["name"] for p in OPENAPI["paths"][path]["get"]["parameters"])
            for path in [*ROUTES, *FINDING_ROUTES]}


def _known_only(path: str, params: Mapping[str, str]) -> None:
    """A misspelt filter must not answer as if there were none."""
    unknown = sorted(set(params) - ACCEPTED[path])
    if unknown:
        raise BadRequest(f"unknown parameter(s) {', '.join(unknown)}; {path} takes {', '.join(sorted(ACCEPTED[path]))}")


def answer(path: str, queries: TemporalQueries, params: Mapping[str, str],
           analyzer: AnalyzerSettings | None = None) -> Answer:
    handler = ROUTES.get(path)
    finding = FINDING_ROUTES.get(path)
    if handler is None and finding is None:
        return 404, {"error": f"no such endpoint {path}"}
    try:
        _known_only(path, params)
        if finding is not None:
            return finding(queries, params, analyzer or AnalyzerSettings())
        return handler(queries, params)
    except BadRequest as exc:
        return 400, {"error": str(exc)}
