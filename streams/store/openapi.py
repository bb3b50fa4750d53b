"""OpenAPI 3.1 description of the worker's read-only query API (served at /openapi.json).

    python3 -m streams.store.openapi --write     # docs/openapi.json from this description
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _param(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": "string"}}


TIME = "ISO-8601 time, or how long ago: 90m, 2h, 3d"
UID = _param("uid", "The resource uid (its ARN), or its id if that names one resource", required=True)
SINCE, UNTIL = _param("since", f"Window start: {TIME}"), _param("until", f"Window end: {TIME} (default now)")
LIMIT = _param("limit", "At most this many items (default 1000)")
FILTERS = [_param("account", "Only this account"), _param("region", "Only this region"),
           _param("type", "Only this type, e.g. ec2.instance")]
TAG = _param("tag", "Only resources with these tags: key=value[,key=value]")
CHANGED_TAG = _param("tag", "key=value[,key=value]: only resources with these tags before or after the change")
ONE = _param("uid", "Only this resource: its uid, or its id if that names one resource")
NET = {"type": "object", "description": "One resource that differs: uid, change (created, modified, deleted), "
       "type, id, name, account, region, from_version, to_version, versions_between, recreated, diff, before, "
       "after, actors"}
VERSION = {"type": "object", "description": "One version: uid, version, kind, valid_from, valid_to, type, id, "
           "name, account, region, diff, resource, cause, attribution (and in a history, its drift)"}


def _get(summary: str, parameters: list, schema: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": parameters, "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "400": {"description": "A parameter is missing or malformed"},
        "401": {"description": "The worker has an API token and the request did not carry it"},
        "404": {"description": "No such resource (the uid or id names none), or it did not exist then"},
        "409": {"description": "The id names several resources: give the uid (they are listed)"},
        "503": {"description": "The workers are rebalancing, or one did not answer: ask again (Retry-After)"}}}}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Elava worker query API", "version": "1",
             "description": "Read-only time travel over the MVCC store: any worker of the group answers "
                            "for every partition (it asks the others and merges their answers)."},
    # Required when the worker has worker.api_token (always when it serves beyond loopback).
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/v1/resource": _get("A resource as of a time", [UID, _param("at", f"{TIME} (default now)")], VERSION),
        "/v1/history": _get("Versions of a resource overlapping a window", [UID, SINCE, UNTIL],
                            {"type": "array", "items": VERSION}),
        "/v1/who": _get("Who made each version of a resource", [UID, SINCE, UNTIL],
                        {"type": "array", "items": {"type": "object"}}),
        "/v1/inventory": _get("Every resource that existed at a time", [
            _param("at", f"{TIME} (default now)"), ONE, *FILTERS, TAG, LIMIT],
            {"type": "array", "items": {"type": "object"}}),
        "/v1/changes": _get("Versions that began in a window", [
            _param("since", f"Window start: {TIME}", required=True), UNTIL, ONE, *FILTERS, CHANGED_TAG, LIMIT],
            {"type": "array", "items": VERSION}),
        "/v1/diff": _get("The net difference between two times: created, deleted, modified with the field diff", [
            _param("since", f"The earlier time (T1): {TIME}", required=True),
            _param("until", f"The later time (T2): {TIME} (default now)"), ONE, *FILTERS, CHANGED_TAG, LIMIT],
            {"type": "array", "items": NET}),
        "/v1/cluster": _get("Which worker holds which partition, as this worker's group view says", [], {
            "type": "object", "description": "this (this worker's URL), settled (not rebalancing), partitions "
            "(how many), workers (each worker's URL and the partitions it holds)"}),
        "/v1/related": _get("What a resource used and what used it, at a time", [
            UID, _param("at", f"{TIME} (default now)"), _param("depth", "Steps out in each direction, 1 to 5 (default 1)")],
            {"type": "object", "description": "uid, at, type, id, name, account, region, observed; uses and used_by: "
             "lists of {uid, relation, via, depth, type, id, name, account, region, observed}"}),
        "/v1/waste": _get("Waste findings still open (elava.waste's current list)", [
            _param("type", "Only this type, e.g. ec2.volume"), _param("reason", "Only this rule, e.g. unattached-volume"),
            _param("account", "Only this account"), _param("region", "Only this region"), LIMIT],
            {"type": "array", "items": {"type": "object", "description": "A WasteFinding (docs/schemas/waste.json)"}}),
        "/v1/drift": _get("Drift found on versions that began in a window (docs/analyzers.md)", [
            _param("since", f"Window start: {TIME} (default a day before until)"), UNTIL,
            _param("severity", "At this severity or worse: info, low, medium, high, critical"),
            _param("type", "Only these types: a type or a glob, e.g. ec2.*"), LIMIT],
            {"type": "array", "items": {"type": "object", "description": "A drift event (docs/schemas/drift.json)"}}),
        "/v1/patterns": _get("Lifecycle patterns found in a window: of one resource as found, across resources "
                             "(re-created under a name, bursts by one actor) over every partition of the group", [
            _param("since", f"Window start: {TIME} (default a day before until)"), UNTIL,
            _param("pattern", "Only this pattern: recreated, short-lived, flapping, schedule, burst"), LIMIT],
            {"type": "array", "items": {"type": "object", "description": "A pattern event (docs/schemas/patterns.json)"}}),
    },
}


def rendered() -> str:
    return json.dumps(OPENAPI, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOCUMENT.write_text(rendered())
    else:
        sys.stdout.write(rendered())
