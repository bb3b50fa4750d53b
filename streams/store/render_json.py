"""Versions as JSON objects: one shape for the CLI's JSON lines and the HTTP API."""

from __future__ import annotations

from typing import Any

from streams.store.net import NetChange
from streams.store.queries import UNKNOWN, Authorship, authorship
from streams.store.records import Version
from streams.store.versioned import from_micros


def iso(micros: int | None) -> str | None:
    return from_micros(micros).isoformat() if micros is not None else None


def version_json(version: Version, subject: dict[str, Any] | None) -> dict[str, Any]:
    """One version as a JSON line; ``subject`` names what a deletion removed."""
    about = subject or {}
    return {
        "uid": version.uid, "version": version.version, "kind": version.kind,
        "valid_from": iso(version.valid_from), "valid_to": iso(version.valid_to),
        "type": about.get("type"), "id": about.get("id"), "name": about.get("name"),
        "account": about.get("account"), "region": about.get("region"),
        "diff": version.diff, "resource": version.resource, "cause": version.cause,
        "attribution": version.attribution,
    }


def inventory_json(version: Version) -> dict[str, Any]:
    return {**(version.resource or {}), "version": version.version, "valid_from": iso(version.valid_from)}


def who_json(row: Authorship) -> dict[str, Any]:
    v = row.version
    return {"uid": v.uid, "version": v.version, "kind": v.kind, "valid_from": iso(v.valid_from),
            "actor": row.actor, "actor_kind": row.actor_kind, "confidence": row.confidence,
            "evidence": row.evidence, "method": row.method, "attributed": row.attributed,
            "actors": [{"actor": a.actor, "actor_kind": a.actor_kind, "share": a.share, "confidence": a.confidence}
                       for a in row.actors]}


def net_change_json(found: NetChange) -> dict[str, Any]:
    """One resource of a net difference (``elava diff``, ``/v1/diff``)."""
    about = found.subject
    return {
        "uid": found.uid, "change": found.kind,
        "type": about.get("type"), "id": about.get("id"), "name": about.get("name"),
        "account": about.get("account"), "region": about.get("region"),
        "from_version": found.before.version if found.before else None,
        "to_version": found.after.version if found.after else None,
        "versions_between": len(found.between), "recreated": found.recreated,
        "diff": [c.model_dump(mode="json") for c in found.diff],
        "before": found.before.resource if found.before else None,
        "after": found.after.resource if found.after else None,
        "actors": names_of(found.between),
    }


def names_of(versions: list[Version]) -> list[str]:
    """Everyone attribution names for these versions (every co-author), sorted."""
    names = set()
    for row in map(authorship, versions):
        names.update(a.actor for a in row.actors if a.actor != UNKNOWN)
        if row.attributed:
            names.add(row.actor)
    return sorted(names)
