"""OCSF objects shared by every class Elava emits: times, metadata, cloud, resources, actors."""

from __future__ import annotations

import functools
import ipaddress
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from elava.events import Actor, Event
from streams.siem.classes import OCSF_VERSION, OcsfClass

PRODUCT = {"name": "Elava", "vendor_name": "Elava", "uid": "elava"}
PROFILES = ["cloud"]
SEVERITY_ID = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_CAPTION = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
OTHER = 99
# Actor.kind -> OCSF user type_id (1 User, 3 System, 4 Service, 0 Unknown).
USER_TYPE_ID = {"human": 1, "automation": 3, "service": 4}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """OCSF times are integer milliseconds since the epoch (naive times are taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def product() -> dict[str, Any]:
    return {**PRODUCT, **_version()}


@functools.cache
def _version() -> dict[str, str]:
    try:
        return {"version": version("elava")}
    except PackageNotFoundError:  # a source tree that was never installed
        return {}


def classification(cls: OcsfClass, activity_id: int, activity_name: str | None = None) -> dict[str, Any]:
    out = {"class_uid": cls.uid, "class_name": cls.caption, "category_uid": cls.category_uid,
           "activity_id": activity_id, "type_uid": cls.type_uid(activity_id)}
    if activity_name:
        out["activity_name"] = activity_name
    return out


def severity(level: str | None) -> dict[str, Any]:
    """Elava's severity words; an unknown word is OCSF Other with the word kept, none is Unknown."""
    if level is None:
        return {"severity_id": 0, "severity": SEVERITY_CAPTION[0]}
    if level in SEVERITY_ID:
        return {"severity_id": SEVERITY_ID[level], "severity": SEVERITY_CAPTION[SEVERITY_ID[level]]}
    return {"severity_id": OTHER, "severity": level}


def metadata(event: Event, log_name: str, correlation_uid: str | None = None, **extra: Any) -> dict[str, Any]:
    """``uid`` is the Elava event's id: one OCSF event per Elava event, replays keep it."""
    out = {"version": OCSF_VERSION, "product": product(), "profiles": list(PROFILES), "uid": event.event_id,
           "log_name": log_name, **extra}
    if correlation_uid:
        out["correlation_uid"] = correlation_uid
    return out


def cloud(account: str | None, region: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"provider": "AWS"}
    if account:
        out["account"] = {"uid": account, "type_id": 10, "type": "AWS Account"}
    if region and region != "global":  # "global": listed once per account (S3, IAM, Route 53)
        out["region"] = region
    return out


def arn_scope(uid: str) -> tuple[str | None, str | None]:
    """(account, region) of an ARN, None where it has none (S3 bucket ARNs have neither)."""
    parts = uid.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None, None
    return parts[4] or None, parts[3] or None


def resource(uid: str, type_: str | None = None, region: str | None = None, name: str | None = None,
             ident: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": uid, "provider": "AWS"}
    if type_:
        out["type"] = type_
    if name:
        out["name"] = name
    if ident and ident != uid:
        out["uid_alt"] = ident
    region = region or arn_scope(uid)[1]
    if region and region != "global":
        out["region"] = region
    return out


def actor(who: Actor) -> dict[str, Any]:
    """The attribution's actor: the identity as user, the role as session issuer, the tool as app."""
    user: dict[str, Any] = {"name": who.name or who.arn or "unknown", "type_id": USER_TYPE_ID.get(who.kind, 0)}
    user["type"] = {0: "Unknown", 1: "User", 3: "System", 4: "Service"}[user["type_id"]]
    if who.arn:
        user["uid"] = who.arn
    out: dict[str, Any] = {"user": user}
    if who.role:
        out["session"] = {"issuer": who.role}
    if who.via:
        out["app_name"] = who.via
    return out


def endpoint(source_ip: str | None, fallback: str = "unknown") -> dict[str, Any]:
    """Where a call came from: an address, or the AWS service CloudTrail names instead of one."""
    if not source_ip:
        return {"name": fallback}
    try:
        ipaddress.ip_address(source_ip)
    except ValueError:
        return {"svc_name": source_ip}
    return {"ip": source_ip}


def evidence_of(who: Actor, uid: str | None = None, data: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"actor": actor(who)}
    if uid:
        out["uid"] = uid
    if who.source_ip:
        out["src_endpoint"] = endpoint(who.source_ip)
    if who.user_agent:
        out["http_request"] = {"user_agent": who.user_agent}
    if data is not None:
        out["data"] = data
    return out
