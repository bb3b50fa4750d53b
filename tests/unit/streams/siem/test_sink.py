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


def test_a_mapping_failure_gives_no_copy_and_is_logged(caplog):
    from elava.events import ActionResult
    from streams.siem.sink import ocsf_copies

    broken = ActionResult.model_construct(event_id="e-1", uid="arn:aws:ec2:us-east-1:1:instance/i-1")  # no status
    with caplog.at_level("ERROR", logger="elava.siem"):
        assert ocsf_copies(broken, "elava/executor") == []
    assert "no OCSF copy of elava.action-result e-1" in caplog.text
    assert len(ocsf_copies(examples.drift(), "elava/worker")) == 1
