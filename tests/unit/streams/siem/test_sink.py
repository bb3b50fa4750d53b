"""OCSF events as Kafka messages: keyed by resource, JSON value, CloudEvents headers."""

from __future__ import annotations

import orjson

from elava import examples
from elava.events import dataschema
from streams.siem.sink import ocsf_messages, publish_ocsf


def test_a_message_is_keyed_by_the_resource_and_named_by_its_class():
    [message] = ocsf_messages(examples.drift(), "elava/worker")
    headers = dict(message.headers)

    assert message.key == examples.SG_UID.encode()
    assert orjson.loads(message.value) == message.event
    assert headers["ce_id"] == examples.drift().event_id.encode()
    assert headers["ce_type"] == b"elava.ocsf.detection_finding"
    assert headers["ce_source"] == b"elava/worker"
    assert headers["ce_dataschema"] == dataschema("ocsf").encode()
    assert headers["ce_specversion"] == b"1.0" and headers["content-type"] == b"application/json"


async def test_publish_sends_each_message_through_the_callable():
    sent = []

    async def send(key: bytes, value: bytes, headers: list) -> None:
        sent.append((key, orjson.loads(value)["class_uid"]))

    assert await publish_ocsf(send, examples.trail_event(), "elava/worker") == 1
    assert await publish_ocsf(send, examples.change(), "elava/worker") == 0  # not for SIEMs
    assert sent == [(examples.SG_UID.encode(), 6003)]
