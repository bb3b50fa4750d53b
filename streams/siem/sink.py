"""OCSF events as Kafka messages for ``<prefix>.ocsf``: key, JSON value, CloudEvents headers.

Pure: the worker, the executor and the policy stage send what ``ocsf_messages`` gives
with their own producer (``publish_ocsf`` does it for a send callable).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from elava.events import Event, binding_headers, dataschema
from streams.siem.ocsf import ocsf_events_for

log = logging.getLogger("elava.siem")
TOPIC = "ocsf"  # the catalog's suffix: <prefix>.ocsf
CE_TYPE_PREFIX = "elava.ocsf."  # + the OCSF class name, e.g. elava.ocsf.detection_finding

Send = Callable[[bytes, bytes, list[tuple[str, bytes]]], Awaitable[Any]]


@dataclass(frozen=True)
class OcsfMessage:
    key: bytes  # the resource uid, like every other output topic
    value: bytes
    headers: list[tuple[str, bytes]]
    event: dict[str, Any]


def ocsf_message(ocsf: dict[str, Any], source: str) -> OcsfMessage:
    class_name = ocsf["class_name"].lower().replace(" ", "_")
    headers = binding_headers(ocsf["metadata"]["uid"], CE_TYPE_PREFIX + class_name, source, dataschema(TOPIC))
    return OcsfMessage(ocsf["resources"][0]["uid"].encode(), orjson.dumps(ocsf), headers, ocsf)


def ocsf_messages(event: Event, source: str, policy_severity: Mapping[str, str] | None = None) -> list[OcsfMessage]:
    return [ocsf_message(ocsf, source) for ocsf in ocsf_events_for(event, policy_severity)]


def ocsf_copies(event: Event, source: str, policy_severity: Mapping[str, str] | None = None) -> list[OcsfMessage]:
    """``ocsf_messages`` for a process that has already published ``event`` itself: the OCSF
    copy is a derived view, so a mapping failure (a bug) is logged and gives none rather
    than stopping the worker or an executor in the middle of an action."""
    try:
        return ocsf_messages(event, source, policy_severity)
    except Exception:  # noqa: BLE001 - logged with its traceback; the event itself is on its topic
        log.exception("no OCSF copy of %s %s", event.ce_type, event.event_id)
        return []


async def publish_ocsf(send: Send, event: Event, source: str,
                       policy_severity: Mapping[str, str] | None = None) -> int:
    """Send the OCSF events of ``event`` (key, value, headers) through ``send``; how many."""
    messages = ocsf_copies(event, source, policy_severity)
    for message in messages:
        await send(message.key, message.value, message.headers)
    return len(messages)
