"""Poison input: hypothesis-made malformed messages interleaved with valid ones.

Every bad message lands in the DLQ with a reason and its original bytes, every valid
one is processed, and the worker never stops.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elava.events import Resource, cloudevent_headers
from elava.kafka.clients import ensure_topics
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.settings import load_settings
from elava.topics import Topics
from tests.integration.reading import read_topic
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, TYPE, page, sg

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OBSERVATION = {"ce_type": b"elava.observation"}
VALID_PAGE = orjson.loads(page([sg("sg-template")], T0).to_bytes())

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=10)


def broken_page(draw_field: str, value) -> bytes:
    body = dict(VALID_PAGE)
    body[draw_field] = value
    return orjson.dumps(body)


def broken_resource(field: str, value) -> bytes:
    """A valid page but for ``field`` of its second resource: none of it may be applied (its valid first one too)."""
    good, bad = (dict(VALID_PAGE["resources"][0], uid=f"{VALID_PAGE['resources'][0]['uid']}-{n}") for n in (1, 2))
    return orjson.dumps(dict(VALID_PAGE, resources=[good, {**bad, field: value}]))


def invalid_as(field: str, value) -> bool:
    return value is not None and not isinstance(value, str) if field == "name" else not isinstance(value, dict)


bad_messages = st.one_of(
    st.tuples(st.just(b"k"), st.binary(min_size=1, max_size=200).filter(lambda b: not b.strip().startswith(b"{")),
              st.just("broken bytes")),
    st.tuples(st.just(b"k"), json_values.map(orjson.dumps), st.just("json that is no page")),
    st.tuples(st.just(b"k"), st.sampled_from(["resources", "observed_at", "page", "shard"]).flatmap(
        lambda f: json_values.filter(lambda v: not isinstance(v, list) or f != "resources").map(
            lambda v: broken_page(f, v))), st.just("wrong types")),
    st.tuples(st.just(b"k"), st.integers(2, 10**6).map(lambda v: broken_page("schema_version", v)),
              st.just("unknown schema version")),
    st.tuples(st.just(b""), st.just(orjson.dumps(VALID_PAGE)), st.just("empty key")),
    st.tuples(st.just(b"k"), st.just(broken_page("resources", [{"uid": "x" * 200_000}])), st.just("huge value")),
    # Under its own shard key: a page whose header and identities are valid, but not all content.
    st.tuples(st.just(VALID_PAGE["shard"].encode()), st.sampled_from(["tags", "name", "attributes"]).flatmap(
        lambda f: json_values.filter(lambda v: invalid_as(f, v)).map(lambda v: broken_resource(f, v))),
              st.just("invalid content")),
)


def corpus(size: int) -> list[tuple[bytes, bytes, str]]:
    """A fixed (derandomized) sample of malformed messages."""
    drawn: list = []

    @settings(max_examples=size, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(bad_messages)
    def collect(message) -> None:
        drawn.append(message)

    collect()
    return drawn


async def test_every_bad_message_is_dead_lettered_and_every_good_one_processed(kafka_bootstrap, tmp_path):
    run = f"poison-{uuid.uuid4().hex[:6]}"
    config = load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run,
                           kafka__partitions=2, worker__app_id=run, worker__data_dir=str(tmp_path / "w"),
                           worker__web_port=0)
    topics = Topics(config.kafka)
    await ensure_topics(config.kafka)
    bad = corpus(120)
    good = [page([Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-good-{n}", type=TYPE,
                           id=f"sg-good-{n}", account=ACCOUNT, region=REGION)], T0 + timedelta(seconds=n),
                  scan=f"good-{n}") for n in range(len(bad))]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for (key, value, _), valid in zip(bad, good, strict=True):
            await producer.send(topics.observations, value=value, key=key, headers=list(OBSERVATION.items()))
            await producer.send(topics.observations, value=valid.to_bytes(), key=valid.shard.encode(),
                                headers=cloudevent_headers(valid, "test"))
        await producer.flush()
    finally:
        await producer.stop()

    worker = WorkerProcess(config, tmp_path / "worker.log")
    worker.start()
    try:
        await wait_until_processed(config, worker, timeout=180)
        assert worker.running, "the worker must survive every poison message"
    finally:
        worker.stop()

    letters = await read_topic(kafka_bootstrap, topics.dlq)
    assert sorted(r.value for r in letters) == sorted(value for _, value, _ in bad)
    assert all(dict(r.headers)["elava_dlq_reason"] for r in letters)
    content = {value for _, value, kind in bad if kind == "invalid content"}  # refused in processing, before writes
    reasons = [dict(r.headers)["elava_dlq_reason"].decode() for r in letters if r.value in content]
    assert reasons and all(reason.startswith("invalid Observation") for reason in reasons), reasons[:3]
    changes = await read_topic(kafka_bootstrap, topics.changes)
    created = {orjson.loads(r.value)["uid"] for r in changes}
    assert created == {p.resources[0].uid for p in good}
