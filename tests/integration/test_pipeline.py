"""Observations through the real broker and a real `elava worker` process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer

from elava.demo.drivers import KafkaDriver
from elava.events import cloudevent_headers
from tests.integration.reading import read_topic
from tests.unit.streams.fixtures import T0, marker, page, sg, shard

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def pipeline(kafka_bootstrap, tmp_path_factory):
    driver = KafkaDriver(kafka_bootstrap, tmp_path_factory.mktemp("pipeline"))
    await driver.start()
    yield driver
    await driver.stop()


def same_shard_pair(prefix: str):
    first = sg(f"{prefix}-0")
    for i in range(1, 200):
        other = sg(f"{prefix}-{i}")
        if shard(other) == shard(first):
            return first, other
    raise AssertionError("no pair found")


async def test_observations_in_change_events_out(pipeline):
    group = sg("sg-created", {"owner": "alice"})
    await pipeline.sink.page(page([group], T0, scan="p1"))
    result = await pipeline.results()
    assert [(c.uid, c.kind, c.new_version) for c in result.changes] == [(group.uid, "created", 1)]
    assert result.changes[0].resource.tags == {"owner": "alice"}

    modified = sg("sg-created", {})
    await pipeline.sink.page(page([modified], T0 + timedelta(minutes=1), scan="p2"))
    result = await pipeline.results()
    assert [(c.kind, c.previous_version, c.new_version) for c in result.changes] == [("modified", 1, 2)]
    assert [(d.uid, d.severity) for d in result.drift] == [(group.uid, "medium")]


def get_json(port: int, path: str) -> tuple[int, object]:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_the_worker_answers_time_travel_queries_over_http(pipeline):
    import asyncio
    from urllib.parse import quote

    group = sg("sg-api", {"owner": "alice"})
    await pipeline.sink.page(page([group], T0, scan="api1"))
    await pipeline.sink.page(page([sg("sg-api", {"owner": "bob"})], T0 + timedelta(hours=1), scan="api2"))
    await pipeline.results()
    port, uid = pipeline.settings.worker.web_port, quote(group.uid, safe="")

    status, history = await asyncio.to_thread(get_json, port, f"/v1/history?uid={uid}")
    assert status == 200 and [(v["version"], v["kind"]) for v in history] == [(1, "created"), (2, "modified")]
    at = quote((T0 + timedelta(minutes=30)).isoformat(), safe="")
    status, then = await asyncio.to_thread(get_json, port, f"/v1/resource?uid={uid}&at={at}")
    assert status == 200 and then["resource"]["tags"] == {"owner": "alice"}
    status, owned = await asyncio.to_thread(get_json, port, "/v1/inventory?tag=owner=bob")
    assert status == 200 and [r["uid"] for r in owned] == [group.uid]
    assert (await asyncio.to_thread(get_json, port, "/v1/changes"))[0] == 400
    status, net = await asyncio.to_thread(get_json, port, f"/v1/diff?since={at}&uid={uid}")  # the net difference
    assert status == 200 and [(r["change"], r["from_version"], r["to_version"], r["diff"]) for r in net] == [
        ("modified", 1, 2, [{"path": "tags.owner", "op": "replace", "old": "alice", "new": "bob"}])]
    status, spec = await asyncio.to_thread(get_json, port, "/openapi.json")
    assert status == 200 and {"/v1/inventory", "/v1/diff"} <= set(spec["paths"])


async def test_deletion_only_after_a_successful_scan_marker(pipeline):
    kept, gone = same_shard_pair("sg-del")
    await pipeline.sink.page(page([kept, gone], T0, scan="d1"))
    assert {c.kind for c in (await pipeline.results()).changes} == {"created"}

    await pipeline.sink.marker(marker(shard(kept), [], T0 + timedelta(hours=1), status="failed", scan="d2"))
    assert (await pipeline.results()).changes == []

    await pipeline.sink.marker(marker(shard(kept), [kept], T0 + timedelta(hours=2), scan="d3"))
    result = await pipeline.results()
    assert [(c.uid, c.kind, c.new_version) for c in result.changes] == [(gone.uid, "deleted", 2)]


async def test_malformed_messages_go_to_the_dlq_and_the_worker_goes_on(pipeline, kafka_bootstrap):
    topics = pipeline.topics
    valid = page([sg("sg-after-poison")], T0, scan="x1")
    poison = [
        (b"some/shard", b"{broken json", [("ce_type", b"elava.observation")]),
        (b"some/shard", b'{"schema_version": 1, "resources": "nope"}', [("ce_type", b"elava.observation")]),
        (b"some/shard", b'{"schema_version": 7}', [("ce_type", b"elava.scan-marker")]),
        (b"some/shard", b'{"a": 1}', []),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for key, value, headers in poison:
            await producer.send_and_wait(topics.observations, value=value, key=key, headers=headers)
        await producer.send_and_wait(topics.observations, value=valid.to_bytes(), key=valid.shard.encode(),
                                     headers=cloudevent_headers(valid, "test"))
    finally:
        await producer.stop()

    result = await pipeline.results()
    assert [c.uid for c in result.changes] == [valid.resources[0].uid]

    letters = await read_topic(kafka_bootstrap, topics.dlq)
    assert sorted(r.value for r in letters) == sorted(v for _, v, _ in poison)
    for record in letters:
        headers = dict(record.headers)
        assert headers["elava_dlq_topic"] == topics.observations.encode()
        assert headers["elava_dlq_reason"]
        assert int(headers["elava_dlq_offset"]) >= 0
    reasons = b" | ".join(dict(r.headers)["elava_dlq_reason"] for r in letters)
    assert b"not valid JSON" in reasons and b"unsupported schema_version" in reasons and b"ce_type" in reasons


async def test_a_late_trail_event_attributes_the_change_and_re_reports_its_drift(pipeline, kafka_bootstrap):
    from elava.events import Actor, AttributedChange, TouchedResource, TrailEvent

    group = sg("sg-who")
    await pipeline.sink.page(page([group], T0, scan="w1"))
    await pipeline.sink.marker(marker(shard(group), [group], T0, scan="w1"))
    opened = sg("sg-who", ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}])
    await pipeline.sink.page(page([opened], T0 + timedelta(hours=1), scan="w2"))
    first = await pipeline.results()
    (change,) = [c for c in first.changes if c.uid == group.uid and c.kind == "modified"]
    assert [d.actor for d in first.drift if d.uid == group.uid] == [None]

    trail = TrailEvent(
        trail_event_id="ct-1", event_name="AuthorizeSecurityGroupIngress", event_source="ec2.amazonaws.com",
        event_time=T0 + timedelta(minutes=30), account=group.account, region=group.region,
        actor=Actor(type="IAMUser", arn="arn:aws:iam::111122223333:user/alice", name="alice", kind="human"),
        resource=TouchedResource(uid=group.uid, type=group.type, id=group.id))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(pipeline.topics.cloudtrail, value=trail.to_bytes(), key=shard(group).encode(),
                                     headers=cloudevent_headers(trail, "test"))
    finally:
        await producer.stop()
    await wait_until_trail_processed(pipeline)
    second = await pipeline.results()
    (drift,) = [d for d in second.drift if d.uid == group.uid]
    assert (drift.change_id, drift.actor.name, drift.confidence) == (change.event_id, "alice", 1.0)

    records = await read_topic(kafka_bootstrap, pipeline.topics.attributed_changes)
    mine = [AttributedChange.from_bytes(r.value) for r in records]
    mine = [a for a in mine if a.change.event_id == change.event_id]
    assert [(a.provisional, a.actor.name, a.confidence) for a in mine] == [(True, None, 0.0), (False, "alice", 1.0)]


async def wait_until_trail_processed(pipeline) -> None:
    from elava.processes.worker_process import wait_until_processed

    await wait_until_processed(pipeline.settings, pipeline.worker, topic=pipeline.topics.cloudtrail)


async def test_what_uses_a_resource_is_read_from_every_partition_the_worker_holds(pipeline):
    import asyncio
    from urllib.parse import quote

    from aiokafka.partitioner import DefaultPartitioner

    from elava.events import Observation
    from elava.sharding import shard_of
    from tests.unit.streams.test_relations import res

    partitions = list(range(pipeline.settings.kafka.partitions))

    def own_page(resource, n: int) -> Observation:  # keyed by its own type's shard, as a collector keys it
        key = shard_of(resource.uid, resource.account, resource.region, resource.type, 16)
        return Observation(scan_id=f"rel-{n}", account=resource.account, region=resource.region, type=resource.type,
                           shard=key, page=0, observed_at=T0, resources=[resource])

    subnet = res("ec2.subnet", "subnet-shared", vpc_id="vpc-1")
    users = [res("ec2.instance", f"i-rel{n:03}", subnet_id="subnet-shared", security_groups=[]) for n in range(8)]
    pages = [own_page(resource, n) for n, resource in enumerate([subnet, *users])]
    held_in = {DefaultPartitioner()(p.shard.encode(), partitions, partitions) for p in pages}
    assert len(held_in) > 1, "the users should live in several partitions"
    for observation in pages:
        await pipeline.sink.page(observation)
    await pipeline.results()

    at = quote((T0 + timedelta(minutes=1)).isoformat(), safe="")
    status, found = await asyncio.to_thread(
        get_json, pipeline.settings.worker.web_port, f"/v1/related?uid={quote(subnet.uid, safe='')}&at={at}")
    assert status == 200 and found["observed"] is True
    assert sorted((u["relation"], u["uid"]) for u in found["used_by"]) == sorted(("subnet", u.uid) for u in users)
