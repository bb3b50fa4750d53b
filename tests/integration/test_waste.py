"""Waste findings through the real broker and a real `elava worker`, and the same scenario
through the in-process driver: exactly the expected events, once each, with the same ids."""

from __future__ import annotations

import pytest

from elava.demo.drivers import EmbeddedDriver, KafkaDriver
from elava.events import Observation, ScanMarker, digest
from tests.unit.streams.analyzers.waste_estate import ACCOUNT, DAY, REGION, T0, Estate, resource, shard

pytestmark = pytest.mark.integration


def volume(rid: str, state: str):
    return resource("ec2.volume", rid, state=state, size_gib=20, volume_type="gp3", attached=state == "in-use",
                    attachments=[], create_time=(T0 - 30 * DAY).isoformat())


BIG = resource("ec2.instance", "i-big", state="running", instance_type="m5.4xlarge",
               launch_time=(T0 - 30 * DAY).isoformat(), volumes=[])


def scan(type_name: str, resources: list, at, number: int) -> list:
    page = Observation(scan_id=f"w-{number}", account=ACCOUNT, region=REGION, type=type_name, shard=shard(type_name),
                       page=0, observed_at=at, resources=resources)
    ids = sorted(r.id for r in resources)
    marker = ScanMarker(scan_id=f"w-{number}", account=ACCOUNT, region=REGION, type=type_name,
                        shard=shard(type_name), status="ok", ids=ids, ids_digest=digest(ids), count=len(ids),
                        started_at=at, finished_at=at + DAY / 1000)
    return ([page] if resources else []) + [marker]


def cpu(at, value: float):
    return [Estate().metrics_message(at, BIG.type, {BIG.uid: {"cpu": value}}, collection=f"cpu-{value}")]


STEPS = [
    scan("ec2.volume", [volume("vol-idle", "available"), volume("vol-used", "in-use")], T0, 1)
    + scan("ec2.instance", [BIG], T0, 2),
    cpu(T0 + DAY, 3.0),
    cpu(T0 + 2 * DAY, 7.0),
    scan("ec2.volume", [volume("vol-used", "in-use")], T0 + 3 * DAY, 3) + cpu(T0 + 3 * DAY, 55.0),
]
EXPECTED = [
    [("vol-idle", "unattached-volume", "open")],
    [("i-big", "oversized-instance", "open")],
    [("i-big", "oversized-instance", "updated")],
    [("vol-idle", "unattached-volume", "resolved"), ("i-big", "oversized-instance", "resolved")],
]


async def play(driver) -> list[list]:
    seen = []
    for messages in STEPS:
        for message in messages:
            send = {Observation: driver.sink.page, ScanMarker: driver.sink.marker}.get(type(message),
                                                                                      driver.sink.metrics)
            await send(message)
        seen.append(await driver.results())
    return seen


def short(finding) -> tuple[str, str, str]:
    return finding.uid.rsplit("/", 1)[-1], finding.pattern, finding.status


async def test_the_same_waste_events_once_each_from_the_broker_and_in_process(kafka_bootstrap, tmp_path):
    (tmp_path / "kafka").mkdir()
    kafka = KafkaDriver(kafka_bootstrap, tmp_path / "kafka")
    await kafka.start()
    try:
        on_kafka = await play(kafka)
    finally:
        await kafka.stop()
    embedded = EmbeddedDriver(tmp_path / "store")
    try:
        in_process = await play(embedded)
    finally:
        await embedded.stop()

    for step, (streamed, local, expected) in enumerate(zip(on_kafka, in_process, EXPECTED, strict=True)):
        assert sorted(map(short, streamed.waste)) == sorted(expected), step
        assert sorted(f.event_id for f in streamed.waste) == sorted(f.event_id for f in local.waste), step
        # The worker publishes each finding's OCSF copy beside its others.
        waste_ocsf = {e["metadata"]["uid"] for e in streamed.ocsf if e["metadata"].get("log_name") == "waste"}
        assert waste_ocsf == {f.event_id for f in streamed.waste}, step
    every = [f.event_id for result in on_kafka for f in result.waste]
    assert len(every) == len(set(every)) == 5
