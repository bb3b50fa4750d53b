"""A SIEM's view: elava.ocsf read with the CloudEvents SDK's Kafka binding, every event
checked against the OCSF schema, from a real worker and a real executor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from elava.demo.drivers import KafkaDriver
from elava.events import Actor, TouchedResource, TrailEvent, cloudevent_headers, dataschema
from elava.topics import Topics
from streams.siem.validate import validate
from tests.integration.executing import ResultReader, executor_settings, publish_requests, running_executor
from tests.integration.reading import read_topic
from tests.integration.test_executor import scene
from tests.integration.test_pipeline import wait_until_trail_processed
from tests.unit.streams.executor.fixtures import WebhookReceiver
from tests.unit.streams.fixtures import T0, marker, page, sg, shard

pytestmark = pytest.mark.integration
SSH = [{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}]


async def read_ocsf(bootstrap: str, settings) -> list:
    """Every record of <prefix>.ocsf, as CloudEvents (binary mode: attributes in ce_ headers)."""
    records = await read_topic(bootstrap, Topics(settings.kafka).ocsf)
    return [from_binary(KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value), JSONFormat())
            for r in records]


def check_cloudevents(events: list) -> list[dict]:
    """Each is an OCSF event valid against the schema, named by its CloudEvents attributes."""
    for event in events:
        data = event.get_data()
        assert validate(data) == [], data
        assert event.get_id() == data["metadata"]["uid"]
        assert event.get_type() == "elava.ocsf." + data["class_name"].lower().replace(" ", "_")
        assert event.get_dataschema() == dataschema("ocsf")
        assert event.get_extension("partitionkey") == data["resources"][0]["uid"]  # the Kafka key
    return [event.get_data() for event in events]


async def test_the_worker_publishes_drift_out_of_band_changes_decisions_and_cloudtrail_as_ocsf(
        kafka_bootstrap, tmp_path):
    driver = KafkaDriver(kafka_bootstrap, tmp_path)
    await driver.start()
    try:
        group = sg("sg-siem", {"owner": "alice", "environment": "prod"})
        await driver.sink.page(page([group], T0, scan="s1"))
        await driver.sink.marker(marker(shard(group), [group], T0, scan="s1"))
        opened = sg("sg-siem", {"owner": "alice", "environment": "prod"}, ingress=SSH)
        await driver.sink.page(page([opened], T0 + timedelta(hours=1), scan="s2"))
        await driver.results()
        await publish_trail(driver, kafka_bootstrap, TrailEvent(
            trail_event_id="ct-siem-1", event_name="AuthorizeSecurityGroupIngress", event_source="ec2.amazonaws.com",
            event_time=T0 + timedelta(minutes=30), account=group.account, region=group.region,
            actor=Actor(type="IAMUser", arn="arn:aws:iam::111122223333:user/alice", name="alice", kind="human",
                        via="console", source_ip="198.51.100.4"),
            resource=TouchedResource(uid=group.uid, type=group.type, id=group.id)))
        after_trail = await driver.results()  # the demo's Kafka driver reads elava.ocsf too
        ocsf = check_cloudevents(await read_ocsf(kafka_bootstrap, driver.settings))
    finally:
        await driver.stop()

    assert {e["class_uid"] for e in ocsf} == {2003, 2004, 6003}
    assert {e["class_uid"] for e in after_trail.ocsf} >= {2004, 6003}
    kinds = [(e["class_uid"], (e.get("finding_info") or {}).get("types", [None])[0]) for e in ocsf]
    drift = [e for e in ocsf if e.get("finding_info", {}).get("types") == ["Configuration Drift"]]
    # Reported when seen, and again once CloudTrail named who did it (same finding uid).
    assert [d["severity"] for d in drift] == ["Critical", "Critical"] and len({d["finding_info"]["uid"] for d in drift}) == 1
    assert drift[-1]["evidences"][0]["actor"]["user"]["name"] == "alice"
    [out_of_band] = [e for e in ocsf if e.get("finding_info", {}).get("types") == ["Out-of-band Change"]]
    assert out_of_band["evidences"][0]["uid"] == "ct-siem-1"
    [call] = [e for e in ocsf if e["class_uid"] == 6003]
    assert call["api"]["request"]["uid"] == "ct-siem-1" and call["src_endpoint"] == {"ip": "198.51.100.4"}
    assert (2003, "Policy Violation") in kinds
    assert any(e["compliance"]["control"] == "open_admin_ports" for e in ocsf if e["class_uid"] == 2003)


async def publish_trail(driver: KafkaDriver, bootstrap: str, trail: TrailEvent) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(driver.topics.cloudtrail, value=trail.to_bytes(),
                                     key=shard(sg(trail.resource.id)).encode(),
                                     headers=cloudevent_headers(trail, "test"))
    finally:
        await producer.stop()
    await wait_until_trail_processed(driver)


async def test_the_executor_publishes_every_result_as_ocsf_api_activity(kafka_bootstrap, account):
    requests = scene(account.client("ec2"))
    with WebhookReceiver() as hook:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="1s")
        async with running_executor(settings), ResultReader(settings) as reader:
            await publish_requests(settings, list(requests.values()))
            await reader.until_final(list(requests.values()))
            results = list(reader.results)
        ocsf = check_cloudevents(await read_ocsf(kafka_bootstrap, settings))

    assert sorted(e["metadata"]["uid"] for e in ocsf) == sorted(r.event_id for r in results)
    assert {e["class_uid"] for e in ocsf} == {6003}
    by_status = {e["unmapped"]["elava"]["status"]: e for e in ocsf}
    assert set(by_status) == {"scheduled", "dry_run", "monitored", "notified", "skipped", "failed"}
    assert by_status["failed"]["status_id"] == 2
    assert all(e["status_id"] == 99 for status, e in by_status.items() if status != "failed")  # nothing changed
