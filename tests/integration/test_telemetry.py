"""OpenTelemetry on the real broker: one trace follows a volume from the collector's scan through
the worker and its policy stage to the executor, and the parts' metrics are read where Prometheus
would scrape them."""

from __future__ import annotations

import json
import random
import re
import socket
import urllib.request
import uuid

import pytest

from collectors.service import run_collector
from elava import telemetry
from elava.events import ActionRequest
from elava.processes.worker_process import WorkerProcess, wait_until_decided, wait_until_processed
from elava.settings import load_settings
from elava.topics import Topics
from tests.integration.executing import ResultReader, running_executor
from tests.integration.reading import read_topic
from tests.unit.streams.executor.fixtures import KEY

pytestmark = pytest.mark.integration


def free_run_of_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (a worker and its policy stage serve metrics on
    two of them), below the kernel's ephemeral range so the suite's own outgoing connections, which
    the kernel numbers from that range, cannot take one between this probe and the bind."""
    rng = random.Random()
    while True:
        first = rng.randrange(20000, 32000 - count)
        if all(_free(port) for port in range(first, first + count)):
            return first


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return answer.read().decode()


def pipeline_settings(bootstrap: str, account, tmp_path, metrics_port: int):
    run = f"otel-{uuid.uuid4().hex[:6]}"
    key_id, key = KEY
    return load_settings(
        None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run, kafka__partitions=2,
        kafka__shard_buckets=2, worker__app_id=run, worker__data_dir=str(tmp_path / "worker"), worker__web_port=0,
        policies__app_id=f"{run}-policies", analyzer__drift__app_id=f"{run}-drift", executor__app_id=f"{run}-executor", executor__session_timeout="6s",
        providers__aws__endpoint_url=account.endpoint_url, signing__key_id=key_id, signing__keys={key_id: key.decode()},
        telemetry__traces="file", telemetry__file_path=str(tmp_path / "spans.jsonl"),
        telemetry__metrics="prometheus", telemetry__prometheus_port=metrics_port)


def with_port(settings, port: int):
    return settings.model_copy(update={"telemetry": settings.telemetry.model_copy(update={"prometheus_port": port})})


async def test_one_trace_follows_a_volume_from_scan_to_executor_and_metrics_are_scraped(kafka_bootstrap, account,
                                                                                        tmp_path):
    worker_port = free_run_of_ports(3)  # the worker, its policy stage, and this process
    here_port = worker_port + 2
    settings = pipeline_settings(kafka_bootstrap, account, tmp_path, worker_port)
    volume = account.client("ec2").create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]

    here = with_port(settings, here_port)  # the collector and the executor run in this process
    telemetry.configure(here.telemetry, "collector")
    try:
        assert await run_collector(here, type_names=["ec2.volume"]) is False
        collector_metrics = scrape(here_port)
        worker = WorkerProcess(settings, tmp_path / "worker.log")  # its policy stage is its child
        worker.start()
        try:
            await wait_until_processed(settings, worker)
            await wait_until_decided(settings, worker)
            worker_metrics, stage_metrics = scrape(worker_port), scrape(worker_port + 1)
        finally:
            worker.stop()
        telemetry.configure(here.telemetry, "executor")
        records = await read_topic(settings.kafka, Topics(settings.kafka).actions)
        actions = [ActionRequest.from_bytes(r.value) for r in records]
        assert [(a.uid.rsplit("/", 1)[1], a.action) for a in actions] == [(volume, "delete")]
        async with running_executor(here), ResultReader(settings) as reader:
            final = await reader.until_final(actions)
        executor_metrics = scrape(here_port)
    finally:
        telemetry.shutdown()

    status = final[actions[0].event_id].status
    assert status == "notified"
    assert 'elava_scan_duration_seconds_count{status="ok",type="ec2.volume"} 1.0' in collector_metrics
    assert re.search(r'^elava_aws_calls_total\{service="ec2"\} [1-9]', collector_metrics, re.M)
    assert 'elava_observations_total{type="ec2.volume"} 1.0' in worker_metrics
    observations = Topics(settings.kafka).observations
    lags = re.findall(rf'^elava_consumer_lag\{{group="{settings.worker.app_id}",partition="\d",topic="{observations}"\}} (\S+)',
                      worker_metrics, re.M)
    assert lags and set(lags) == {"0.0"}  # it had read everything when it was scraped
    assert sum(float(k) for k in re.findall(r'^elava_store_keys\{partition="\d"\} (\S+)', worker_metrics, re.M)) > 0
    assert 'elava_changes_total{kind="created",type="ec2.volume"} 1.0' in worker_metrics
    assert 'elava_actions_requested_total{action="delete"} 1.0' in stage_metrics
    assert f'elava_actions_results_total{{action="delete",status="{status}"}} 1.0' in executor_metrics
    assert_one_trace(tmp_path / "spans.jsonl", volume)


def assert_one_trace(path, volume: str) -> None:
    """The executor's span descends, span by span, from the scan that saw the volume."""
    spans = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {span["span_id"]: span for span in spans}
    (executed,) = [s for s in spans if s["name"] == "elava.executor.handle"]
    assert executed["attributes"]["elava.uid"].endswith(volume)
    chain = [executed]
    while chain[-1]["parent_id"] is not None:
        chain.append(by_id[chain[-1]["parent_id"]])
    assert [(s["name"], s["service"]) for s in reversed(chain)] == [
        ("elava.collector.scan", "elava-collector"), ("elava.worker.process", "elava-worker"),
        ("elava.policy.decide", "elava-policies"), ("elava.executor.handle", "elava-executor")]
    assert {s["trace_id"] for s in chain} == {executed["trace_id"]}
    assert chain[-1]["attributes"]["elava.type"] == "ec2.volume"
