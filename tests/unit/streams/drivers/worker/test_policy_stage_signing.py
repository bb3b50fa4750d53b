"""The policy stage signs the action requests it publishes, and only those."""

from __future__ import annotations

from elava.events import PolicyDecision
from elava.settings import KafkaSettings
from elava.signing import Keyring, Signer
from elava.topics import Topics
from streams.drivers.worker.policy_stage import send_action, send_decision
from tests.unit.streams.executor.fixtures import KEY, NOW, request


class Producer:
    """Keeps what it is given, as the stage's batched sends would take it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes, list]] = []

    async def add_keyed(self, topic, key, value, headers):
        self.records.append((topic, key, value, list(headers)))


TOPICS = Topics(KafkaSettings())


async def test_an_action_request_goes_out_signed_and_verifies():
    producer, req = Producer(), request("stop")
    await send_action(producer, TOPICS, req, Signer(*KEY))
    [(topic, key, value, headers)] = producer.records
    assert (topic, key, value) == (TOPICS.actions, req.uid.encode(), req.to_bytes())
    assert Keyring(dict([KEY])).verify(value, headers).key_id == KEY[0]
    assert [name for name, _ in headers if name.startswith("ce_")]  # the CloudEvents headers stay


async def test_decisions_and_a_stage_without_key_send_no_signature():
    producer = Producer()
    decision = PolicyDecision(uid="u", policy="p", decision="deny", cause_id="c", decided_at=NOW)
    await send_decision(producer, TOPICS, decision)
    await send_action(producer, TOPICS, request("stop"), None)
    assert all(name != "elava_signature" for record in producer.records for name, _ in record[3])
