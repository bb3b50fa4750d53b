"""What the executor tests share: settings (the test policies, a signing key), an executor
(in-process or as a process), publishing signed requests and reading results."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from elava.events import ActionRequest, ActionResult, cloudevent_headers
from elava.kafka.clients import ensure_topics, new_consumer, new_producer
from elava.processes.worker_process import (
    ServiceProcess,
    kafka_env,
    policy_env,
    signing_env,
    wait_until_committed,
)
from elava.settings import Settings, load_settings
from elava.signing import keyring_from, signed_headers
from elava.topics import Topics
from streams.drivers.executor.service import ExecutorService
from tests.unit.streams.executor.fixtures import KEY, POLICIES

FINAL = {"monitored", "notified", "dry_run", "executed", "skipped", "cancelled", "failed", "rejected"}


def executor_settings(bootstrap: str, endpoint_url: str, webhook: str | None, **executor: object) -> Settings:
    """An executor with the test policies (under an enforce ceiling) and the tests' signing key."""
    run = f"exec-{uuid.uuid4().hex[:6]}"
    overrides = {f"executor__{k}": v for k, v in executor.items()}
    key_id, key = KEY
    return load_settings(None, kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run, kafka__partitions=4,
                         providers__aws__endpoint_url=endpoint_url, executor__app_id=run,
                         executor__notify_webhook=webhook, executor__session_timeout="6s",
                         policies__path=str(POLICIES), policies__enforcement_mode="enforce",
                         signing__key_id=key_id, signing__keys={key_id: key.decode()}, **overrides)


@asynccontextmanager
async def running_executor(settings: Settings):
    """An executor in this process (the service, to look at what it owns), stopped cleanly at the end."""
    await ensure_topics(settings.kafka)
    stop = asyncio.Event()
    service = ExecutorService(settings)
    task = asyncio.create_task(service.run(stop))
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def publish_requests(settings: Settings, requests: list[ActionRequest], *, signed: bool = True,
                           headers: list[tuple[str, bytes]] | None = None) -> None:
    """As the policy stage publishes them: signed with the settings' key (unless told otherwise)."""
    signer = keyring_from(settings.signing).signer() if signed else None
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        for request in requests:
            value = request.to_bytes()
            extra = headers if headers is not None else signed_headers(value, signer)
            await producer.send(Topics(settings.kafka).actions, value=value, key=request.uid.encode(),
                                headers=cloudevent_headers(request, "elava/test") + extra)
        await producer.flush()
    finally:
        await producer.stop()


class ResultReader:
    """Follows the action-results topic from its beginning."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.results: list[ActionResult] = []
        self._consumer = new_consumer(settings.kafka)

    async def __aenter__(self) -> ResultReader:
        await self._consumer.start()
        topic = Topics(self.settings.kafka).action_results
        parts = [TopicPartition(topic, p) for p in range(self.settings.kafka.partitions)]
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> None:
        batch = await self._consumer.getmany(timeout_ms=200)
        self.results.extend(ActionResult.from_bytes(r.value) for part in batch.values() for r in part)

    async def until_final(self, requests: list[ActionRequest], timeout: float = 45.0,
                          check=None) -> dict[str, ActionResult]:
        """Poll until every request has a final result; ``check()`` may raise (e.g. a dead process)."""
        wanted = {r.event_id for r in requests}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.poll()
            final = self.final()
            if wanted <= final.keys():
                return {k: final[k] for k in wanted}
            if check is not None:
                check()
        missing = wanted - self.final().keys()
        raise TimeoutError(f"{len(missing)} of {len(wanted)} requests without a final result")

    def final(self) -> dict[str, ActionResult]:
        return {r.request_id: r for r in self.results if r.status in FINAL}

    def statuses(self, request: ActionRequest) -> list[str]:
        return [r.status for r in self.results if r.request_id == request.event_id]


def process_env(settings: Settings) -> dict[str, str]:
    kafka, executor = settings.kafka, settings.executor
    env = {**os.environ, "ELAVA_CONFIG": "/dev/null", **kafka_env(kafka),
           "ELAVA_PROVIDERS__AWS__ENDPOINT_URL": settings.providers.aws.endpoint_url or "",
           "ELAVA_EXECUTOR__APP_ID": executor.app_id, "ELAVA_EXECUTOR__DRY_RUN": str(executor.dry_run).lower(),
           "ELAVA_EXECUTOR__GRACE_PERIOD": str(executor.grace_period.total_seconds()),
           "ELAVA_EXECUTOR__SESSION_TIMEOUT": str(executor.session_timeout.total_seconds())}
    if executor.notify_webhook:
        env["ELAVA_EXECUTOR__NOTIFY_WEBHOOK"] = executor.notify_webhook.get_secret_value()
    return env | policy_env(settings) | signing_env(settings)


class ExecutorProcess(ServiceProcess):
    """`elava executor` as a child process that can be SIGKILLed (a crash)."""

    command = "executor"

    def env(self) -> dict[str, str]:
        return process_env(self.settings)


MUTATIONS = {"CreateTags": "ResourceId.1", "DeleteTags": "ResourceId.1", "StopInstances": "InstanceId.1",
             "TerminateInstances": "InstanceId.1", "DeleteVolume": "VolumeId"}


class AwsCallRecorder:
    """Counts the mutating EC2 calls the moto server received (moto's own request recorder)."""

    def __init__(self, path: Path) -> None:
        from moto.moto_api import recorder

        self._recorder = recorder
        self._path = path

    def __enter__(self) -> AwsCallRecorder:
        self._recorder._location = str(self._path)  # moto reads its file path from the environment at import only
        self._recorder.reset_recording()
        self._recorder.start_recording()
        return self

    def __exit__(self, *exc: object) -> None:
        self._recorder.stop_recording()

    def mutations(self) -> Counter[tuple[str, str]]:
        """(action, resource id) -> how many times AWS was asked to do it."""
        counts: Counter[tuple[str, str]] = Counter()
        for line in self._path.read_text().splitlines():
            params = _query_params(orjson.loads(line))
            action = params.get("Action", "")
            if action in MUTATIONS:
                counts[action, params.get(MUTATIONS[action], "")] += 1
        return counts


def _query_params(entry: dict) -> dict[str, str]:
    import base64
    from urllib.parse import parse_qsl

    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    return dict(parse_qsl(body))


async def wait_until_consumed(settings: Settings, timeout: float = 30.0,
                              process: ServiceProcess | None = None) -> None:
    """Until the executor group has committed every request published so far."""
    await wait_until_committed(settings, settings.executor.app_id, Topics(settings.kafka).actions, timeout,
                               process=process, who="the executor")


class LedgerWatcher:
    """Follows the executor's ledger topic: lets a test strike right after a write-ahead record."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = 0
        self._consumer = new_consumer(settings.kafka, fetch_max_wait_ms=10)

    async def __aenter__(self) -> LedgerWatcher:
        await self._consumer.start()
        topic = Topics(self.settings.kafka).executor_ledger
        parts = [TopicPartition(topic, p) for p in range(self.settings.kafka.partitions)]
        self._consumer.assign(parts)
        await self._consumer.seek_to_end(*parts)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def after_started(self, count: int, timeout: float) -> bool:
        """Return as soon as ``count`` more steps were written ahead (False: not within ``timeout``)."""
        target = self.started + count
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.started < target:
            if loop.time() > deadline:
                return False
            batch = await self._consumer.getmany(timeout_ms=20)
            self.started += sum(1 for part in batch.values() for r in part if b'"state":"started"' in r.value)
        return True
