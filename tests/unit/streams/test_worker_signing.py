"""The worker signs the action requests it publishes, and only those."""

from __future__ import annotations

from elava.signing import Keyring, Signer
from streams.app import send
from tests.unit.streams.executor.fixtures import KEY, request


class Sends:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes, list]] = []

    async def add_keyed(self, topic, key, value, headers) -> None:
        self.records.append((topic, key, value, list(headers)))


class Topic:
    def get_topic_name(self) -> str:
        return "elava.actions"


async def test_an_action_request_goes_out_signed_and_verifies():
    sends, req = Sends(), request("stop")
    await send(sends, Topic(), req.uid, req, Signer(*KEY))
    [(_, _, value, headers)] = sends.records
    assert value == req.to_bytes()
    assert Keyring(dict([KEY])).verify(value, headers).key_id == KEY[0]
    assert [name for name, _ in headers if name.startswith("ce_")]  # the CloudEvents headers stay


async def test_other_events_and_a_worker_without_key_send_no_signature():
    from elava.events import PolicyDecision
    from tests.unit.streams.executor.fixtures import NOW

    sends = Sends()
    decision = PolicyDecision(uid="u", policy="p", decision="deny", cause_id="c", decided_at=NOW)
    await send(sends, Topic(), "u", decision, Signer(*KEY))
    await send(sends, Topic(), "u", request("stop"), None)
    assert all(name != "elava_signature" for record in sends.records for name, _ in record[3])
