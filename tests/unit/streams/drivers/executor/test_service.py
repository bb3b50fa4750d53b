"""The executor's span of one request: what the request claims shows only once its signature holds."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from aiokafka import TopicPartition

from elava import telemetry
from elava.settings import Settings
from elava.signing import Signer, signed_headers
from streams.drivers.executor.service import ExecutorService
from tests.unit.streams.executor.fixtures import KEY, request


class Handled:
    """Stands in for the action runner: the executor's decision on a request is not under test here."""

    def __init__(self) -> None:
        self.verdicts = []

    async def handle(self, req, partition, verdict) -> None:
        self.verdicts.append(verdict)


def handle_in_span(headers) -> tuple[dict, Handled]:
    service = ExecutorService(Settings(signing={"keys": {KEY[0]: KEY[1].decode()}}))
    service.runner = Handled()
    value = request().to_bytes()
    record = SimpleNamespace(topic="elava.actions", partition=0, offset=7, value=value, headers=headers(value))
    with telemetry.consumed("elava.executor.handle", record):
        asyncio.run(service._handle(TopicPartition("elava.actions", 0), record))
    return record, service.runner


def attributes(path) -> dict:
    (span,) = [json.loads(line) for line in path.read_text().splitlines()]
    return span["attributes"]


def test_a_forged_request_leaves_its_claims_off_the_span(spans_file):
    forged = Signer(KEY[0], b"not-the-key-not-the-key-not-the-key")
    _, runner = handle_in_span(lambda value: signed_headers(value, forged))
    assert not runner.verdicts[0].ok  # the executor refused it
    found = attributes(spans_file)
    assert found["elava.verified"] is False
    assert "elava.uid" not in found and "elava.action" not in found


def test_a_signed_request_shows_what_it_asks_for(spans_file):
    _, runner = handle_in_span(lambda value: signed_headers(value, Signer(*KEY)))
    assert runner.verdicts[0].ok
    found = attributes(spans_file)
    assert found["elava.verified"] is True
    assert found["elava.uid"] == request().uid and found["elava.action"] == "tag"
