"""CloudTrail records in, `TrailEvent`s out (one per touched resource).

Three shapes arrive: a raw record (what LookupEvents' ``CloudTrailEvent`` holds),
an EventBridge envelope (``detail-type: "AWS API Call via CloudTrail"``, the record
in ``detail``), and a log file (``{"Records": [...]}``, as CloudTrail writes to S3,
gzipped or not). `records_in` accepts any of them, and LookupEvents' own answer.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from collectors.cloudtrail.normalize.arns import Place, home, is_guessed_from_names
from collectors.cloudtrail.normalize.calls import is_read_only
from collectors.cloudtrail.normalize.exceptions import UnreadableTrail
from collectors.cloudtrail.normalize.identity import actor_from_record
from collectors.cloudtrail.normalize.resources import (
    targeted_resources,
    touched_resources,
    why_nothing_changed,
)
from elava.events import TouchedResource, TrailEvent, digest
from elava.sharding import GLOBAL_REGION

VIA_CLOUDTRAIL = "via CloudTrail"  # "AWS API Call via CloudTrail", "AWS Service Event via CloudTrail", ...

Resolver = Callable[[TouchedResource], TouchedResource | None]
"""Names a resource the record could only name approximately (a type ``guessed_from_names``):
given the guess, the resource as the store knows it, or None when it does not know."""


def _envelope_record(envelope: Mapping[str, Any]) -> dict[str, Any]:
    record = dict(envelope.get("detail") or {})
    # EventBridge moves the account and region to the envelope in some deliveries.
    record.setdefault("recipientAccountId", envelope.get("account"))
    record.setdefault("awsRegion", envelope.get("region"))
    return record


def records_in(document: Any) -> Iterator[dict[str, Any]]:
    """Every CloudTrail record in a parsed document, whatever its shape."""
    if isinstance(document, list):
        for item in document:
            yield from records_in(item)
    elif not isinstance(document, Mapping):
        raise UnreadableTrail(f"expected a JSON object, got {type(document).__name__}")
    elif isinstance(document.get("Records"), list):  # a CloudTrail log file
        yield from records_in(document["Records"])
    elif isinstance(document.get("Events"), list):  # LookupEvents' answer: records as JSON text
        for event in document["Events"]:
            record = event.get("CloudTrailEvent") if isinstance(event, Mapping) else None
            yield from records_in(orjson.loads(record) if isinstance(record, str | bytes) else record)
    elif str(document.get("detail-type") or "").endswith(VIA_CLOUDTRAIL):
        yield _envelope_record(document)
    elif "eventName" in document and "eventSource" in document:
        yield dict(document)
    else:
        raise UnreadableTrail("not a CloudTrail record, EventBridge envelope or log file "
                              f"(keys: {sorted(document)[:8]})")


def parse_document(data: bytes) -> Any:
    """JSON (a gzipped log file too), or JSON Lines (one record per line)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        lines = [line for line in data.splitlines() if line.strip()]
        try:
            return [orjson.loads(line) for line in lines]
        except orjson.JSONDecodeError as exc:
            raise UnreadableTrail(f"neither JSON nor JSON Lines: {exc}") from None


@dataclass(frozen=True)
class Located:
    """One record of a file and where it is (``line 3``, ``Records[2]``), or why it cannot be read."""

    where: str
    record: dict[str, Any] | None = None
    problem: str | None = None


def _lookup_event(event: Any) -> Any:
    """The record inside one item of a LookupEvents answer (JSON text in ``CloudTrailEvent``)."""
    record = event.get("CloudTrailEvent") if isinstance(event, Mapping) else None
    return orjson.loads(record) if isinstance(record, str | bytes) else record


def _items(document: Any) -> list[tuple[str, Any]] | None:
    """(jq path, item) of a document holding several records; None for a single one."""
    if isinstance(document, list):
        return [(f"[{i}]", item) for i, item in enumerate(document)]
    if isinstance(document, Mapping) and isinstance(document.get("Records"), list):
        return [(f".Records[{i}]", item) for i, item in enumerate(document["Records"])]
    if isinstance(document, Mapping) and isinstance(document.get("Events"), list):
        return [(f".Events[{i}].CloudTrailEvent", event) for i, event in enumerate(document["Events"])]
    return None


def _located_in(document: Any, line: str, path: str = "") -> Iterator[Located]:
    """The records of one parsed document; a bad item is named, the others still come."""
    items = _items(document)
    if items is None:
        where = " ".join(part for part in (line, path) if part) or "the file"
        try:
            for record in records_in(document):
                yield Located(where, record)
        except (UnreadableTrail, orjson.JSONDecodeError) as exc:
            yield Located(where, problem=str(exc))
        return
    events = isinstance(document, Mapping) and "Events" in document
    for step, item in items:
        if events:
            try:
                item = _lookup_event(item)
            except orjson.JSONDecodeError as exc:
                yield Located(" ".join(part for part in (line, path + step) if part), problem=f"not JSON: {exc}")
                continue
        yield from _located_in(item, line, path + step)


def located_records(data: bytes) -> list[Located]:
    """Every record of a file (JSON, gzipped or not, or JSON Lines), each with where it is (a line,
    a jq path); a line that is not JSON, or an item that is no record, is named with its reason."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        return list(_located_in(orjson.loads(data), ""))
    except orjson.JSONDecodeError as whole:
        found, read_any = [], False
        for number, text in enumerate(data.splitlines(), start=1):
            if not text.strip():
                continue
            try:
                document = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                found.append(Located(f"line {number}", problem=f"not JSON: {exc}"))
                continue
            read_any = True
            found.extend(_located_in(document, f"line {number}"))
        # Not one line is JSON: a broken JSON document, not JSON Lines with a bad line each.
        return found if read_any else [Located("the file", problem=f"neither JSON nor JSON Lines: {whole}")]


def event_time(record: Mapping[str, Any]) -> datetime:
    text = record.get("eventTime")
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise UnreadableTrail(f"eventTime {text!r} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def place_of(record: Mapping[str, Any]) -> Place:
    """The account whose resources a call touched (the recipient) and its region."""
    identity = record.get("userIdentity") or {}
    account = record.get("recipientAccountId") or (identity.get("accountId") if isinstance(identity, Mapping) else "")
    return Place(str(account or ""), str(record.get("awsRegion") or ""))


def _resolved(touched: TouchedResource, resolve: Resolver | None) -> TouchedResource:
    if resolve is None or not is_guessed_from_names(touched.type):
        return touched
    return resolve(touched) or touched


def trail_events(record: Mapping[str, Any], *, resolve: Resolver | None = None,
                 include_unchanged: bool = False) -> list[TrailEvent]:
    """One `TrailEvent` per resource the call touched.

    Read-only and failed calls give none, unless ``include_unchanged`` (an audit view):
    then they give their targets with ``read_only`` / ``error_code`` set, and scoring
    knows to ignore them. ``resolve`` fixes uids a record can only guess.
    """
    unchanged = why_nothing_changed(record)
    if unchanged and not include_unchanged:
        return []
    place = place_of(record)
    actor, when = actor_from_record(record), event_time(record)
    # CloudTrail always sets eventID; a hand-made record without one still gets a stable id.
    trail_event_id = str(record.get("eventID") or digest(record))
    events = []
    for touched in targeted_resources(record, place):
        touched = _resolved(touched, resolve)
        account, region = home(touched, place.account, place.region)
        events.append(TrailEvent(
            trail_event_id=trail_event_id, event_name=str(record.get("eventName") or ""),
            event_source=str(record.get("eventSource") or ""), event_time=when, account=account,
            region=place.region if region == GLOBAL_REGION else region, actor=actor, resource=touched,
            read_only=is_read_only(record), error_code=record.get("errorCode") or None,
        ))
    return events


def events_in(document: Any, **options: Any) -> list[TrailEvent]:
    """Every `TrailEvent` of a parsed document (see `trail_events` for ``options``)."""
    return [event for record in records_in(document) for event in trail_events(record, **options)]


ACTOR_FIELDS = ("type", "arn", "name", "role", "kind", "via", "source_ip")


def explain(record: Mapping[str, Any]) -> dict[str, Any]:
    """What attribution makes of one record, as plain JSON (``elava trail explain``)."""
    place = place_of(record)
    actor = actor_from_record(record)
    return {
        "event_id": record.get("eventID"),
        "event_name": record.get("eventName"),
        "event_source": record.get("eventSource"),
        "event_time": event_time(record).isoformat().replace("+00:00", "Z"),
        "region": place.region,
        "account": place.account,
        "actor": actor.model_dump(mode="json", include=set(ACTOR_FIELDS)),
        "resources": [touched.model_dump(mode="json") for touched in touched_resources(record, place)],
    }
