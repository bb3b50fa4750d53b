"""An `elava worker` (or `elava policy serve`) in a child process, and "has it processed
everything yet?".

Used by the demo's Kafka driver, the integration tests and the benchmarks: they all
need a real worker process they can start, stop, or kill, and a way to know that it
has committed every observation (and the policy stage every attributed change)
published so far.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from elava.exit_codes import STALLED_EXIT
from elava.kafka.clients import new_admin, new_consumer
from elava.settings import KafkaSettings, Settings
from elava.topics import Topics


def worker_env(settings: Settings) -> dict[str, str]:
    kafka, worker = settings.kafka, settings.worker
    return {**os.environ, **kafka_env(kafka),
            "ELAVA_WORKER__APP_ID": worker.app_id, "ELAVA_WORKER__DATA_DIR": str(worker.data_dir),
            "ELAVA_WORKER__SESSION_TIMEOUT": str(worker.session_timeout.total_seconds()),
            "ELAVA_WORKER__STALL_TIMEOUT": str(worker.stall_timeout.total_seconds()),
            **({"ELAVA_WORKER__INSTANCE_ID": worker.instance_id} if worker.instance_id else {}),
            "ELAVA_WORKER__STANDBY_REPLICAS": str(worker.standby_replicas),
            "ELAVA_WORKER__WEB_PORT": str(worker.web_port), "ELAVA_WORKER__WEB_HOST": worker.web_host,
            "ELAVA_WORKER__ROCKSDB_WRITE_BUFFER_MIB": str(worker.rocksdb_write_buffer_mib),
            "ELAVA_WORKER__ROCKSDB_WRITE_BUFFERS": str(worker.rocksdb_write_buffers),
            "ELAVA_WORKER__ROCKSDB_MEMORY_MIB": str(worker.rocksdb_memory_mib),
            "ELAVA_WORKER__STAGE_NICE": str(worker.stage_nice),
            # The worker enforces storage.retention on its partitions (streams/store/retention.py).
            "ELAVA_STORAGE__RETENTION": str(settings.storage.retention.total_seconds()),
            **policy_env(settings), **web_env(settings), **signing_env(settings), **waste_env(settings),
            **telemetry_env(settings), **patterns_env(settings), **drift_env(settings)}


def telemetry_env(settings: Settings) -> dict[str, str]:
    """Every telemetry setting that is set, for a child process (secrets as their values)."""
    env = {}
    for name, value in settings.telemetry:
        if isinstance(value, timedelta):
            env[f"ELAVA_TELEMETRY__{name.upper()}"] = str(value.total_seconds())
        elif isinstance(value, dict):
            plain = {k: v.get_secret_value() for k, v in value.items()}
            env[f"ELAVA_TELEMETRY__{name.upper()}"] = json.dumps(plain)
        elif value is not None:
            env[f"ELAVA_TELEMETRY__{name.upper()}"] = str(value)
    return env


def _setting_text(value: object) -> str:
    if isinstance(value, timedelta):
        return str(value.total_seconds())
    if isinstance(value, dict):
        return json.dumps({k: _setting_text(v) for k, v in value.items()})
    return value if isinstance(value, str) else json.dumps(value)


def waste_env(settings: Settings) -> dict[str, str]:
    """Every analyzer.waste setting: the worker runs the rules as the parent was told to."""
    return {f"ELAVA_ANALYZER__WASTE__{name.upper()}": _setting_text(value)
            for name, value in settings.analyzer.waste.model_dump().items()}


def drift_env(settings: Settings) -> dict[str, str]:
    """Every analyzer.drift setting: the worker's drift stage judges as the parent was told to."""
    return {f"ELAVA_ANALYZER__DRIFT__{name.upper()}": _setting_text(value)
            for name, value in settings.analyzer.drift.model_dump().items()}


def patterns_env(settings: Settings) -> dict[str, str]:
    """Every analyzer.patterns setting: the worker and its fleet-pattern stage judge as told."""
    return {f"ELAVA_ANALYZER__PATTERNS__{name.upper()}": _setting_text(value)
            for name, value in settings.analyzer.patterns.model_dump().items()}


def web_env(settings: Settings) -> dict[str, str]:
    """Who may ask the worker's web server, and what it serves (docs/api.md)."""
    worker = settings.worker
    env = {"ELAVA_WORKER__FAUST_PAGES": str(worker.faust_pages).lower(),
           "ELAVA_WORKER__INSECURE_API_WITHOUT_TOKEN": str(worker.insecure_api_without_token).lower()}
    return env | ({"ELAVA_WORKER__API_TOKEN": worker.api_token.get_secret_value()} if worker.api_token else {})


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    """Every kafka.* setting that is set, security included, for a child process's environment."""
    env = {}
    for name, value in kafka:
        if value is not None:
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"ELAVA_KAFKA__{name.upper()}"] = str(plain)
    return env


def signing_env(settings: Settings) -> dict[str, str]:
    """The signing keys, for a child process that signs or verifies action requests."""
    signing = settings.signing
    keys = {key_id: secret.get_secret_value() for key_id, secret in signing.keys.items()}
    return {"ELAVA_SIGNING__KEY_ID": signing.key_id, "ELAVA_SIGNING__KEYS": json.dumps(keys),
            "ELAVA_SIGNING__KEY_FILES": json.dumps({k: str(v) for k, v in signing.key_files.items()})}


def policy_env(settings: Settings) -> dict[str, str]:
    policies = settings.policies
    env = {"ELAVA_POLICIES__ENABLED": str(policies.enabled).lower(),
           "ELAVA_POLICIES__ENFORCEMENT_MODE": policies.enforcement_mode,
           "ELAVA_POLICIES__APP_ID": policies.app_id,
           "ELAVA_POLICIES__STAGE_IN_WORKER": str(policies.stage_in_worker).lower(),
           "ELAVA_POLICIES__EVALUATION_TIMEOUT": str(policies.evaluation_timeout.total_seconds())}
    return env | ({"ELAVA_POLICIES__PATH": str(policies.path)} if policies.path else {})


class ServiceProcess:
    """An `elava <command>` child process in its own session, so a kill takes its children too."""

    command = ""  # e.g. "worker", "policy serve"

    def __init__(self, settings: Settings, log_path: Path, loglevel: str = "WARNING",
                 restart_when_stalled: bool = False) -> None:
        self.settings = settings
        self.log_path = log_path
        self.loglevel = loglevel
        # As its supervisor would: start a worker again that exited because it stalled.
        self.restart_when_stalled = restart_when_stalled
        self.stall_restarts = 0
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "elava", *self.command.split(), "--loglevel", self.loglevel], env=self.env(),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no commit (a crash)."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        if not self.running:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is None:
            return
        if self.restart_when_stalled and self.process.returncode == STALLED_EXIT:
            self.stall_restarts += 1
            self.start()
            return
        raise RuntimeError(f"the {self.command} exited with {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the process's log (what it said before it stopped or stalled)."""
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


class WorkerProcess(ServiceProcess):
    command = "worker"

    def env(self) -> dict[str, str]:
        return worker_env(self.settings)


class PolicyStageProcess(ServiceProcess):
    """`elava policy serve` on its own (policies.stage_in_worker off in the worker beside it)."""

    command = "policy serve"

    def env(self) -> dict[str, str]:
        return worker_env(self.settings)


class DriftStageProcess(PolicyStageProcess):
    """`elava drift-stage serve` on its own (analyzer.drift.stage_in_worker off in the worker beside it)."""

    command = "drift-stage serve"


async def committed_offsets(admin: AIOKafkaAdminClient, group: str) -> dict:
    try:
        return await admin.list_consumer_group_offsets(group)
    except KafkaError:  # the group (or its coordinator) does not exist yet
        return {}


async def wait_until_processed(settings: Settings, worker: WorkerProcess | None = None,
                               timeout: float = 120.0, topic: str | None = None) -> None:
    """Wait until the worker group has committed every message published so far on ``topic``
    (default: the observations topic)."""
    await wait_until_committed(settings, settings.worker.app_id, topic or Topics(settings.kafka).observations,
                               timeout, process=worker, who="the worker")


async def wait_until_decided(settings: Settings, stage: ServiceProcess | None = None,
                             timeout: float = 120.0) -> None:
    """Wait until the policy stage's group has committed every attributed change published so far
    (call it after wait_until_processed: the worker publishes them)."""
    await wait_until_committed(settings, settings.policies.app_id, Topics(settings.kafka).attributed_changes,
                               timeout, process=stage, who="the policy stage")


async def wait_until_drift_judged(settings: Settings, stage: ServiceProcess | None = None,
                                  timeout: float = 120.0) -> None:
    """Wait until the drift stage's group (the worker's child, or one run apart) has committed every
    attributed change published so far."""
    drift = settings.analyzer.drift
    if not drift.enabled:
        return
    await wait_until_committed(settings, drift.app_id, Topics(settings.kafka).attributed_changes, timeout,
                               process=stage, who="the drift stage")


async def wait_until_judged(settings: Settings, stage: ServiceProcess | None = None,
                            timeout: float = 120.0) -> None:
    """Wait until the fleet-pattern stage has judged every attributed change published so far (it
    commits up to the first change it has not judged: with fleet_settle 0, all it has read)."""
    if not (settings.analyzer.patterns.enabled and settings.analyzer.patterns.fleet_stage_in_worker):
        return
    await wait_until_committed(settings, settings.analyzer.patterns.fleet_app_id,
                               Topics(settings.kafka).attributed_changes, timeout, process=stage,
                               who="the fleet-pattern stage")


async def wait_until_committed(settings: Settings, group: str, topic: str, timeout: float,
                               process: ServiceProcess | None = None, who: str = "the group") -> None:
    """Wait until consumer ``group`` has committed every message published so far on ``topic``;
    fails fast when ``process`` (the consumer) died, and says where it stands when time is up."""
    parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
    consumer, admin = new_consumer(settings.kafka), new_admin(settings.kafka)
    await consumer.start()
    await admin.start()
    try:
        ends = await consumer.end_offsets(parts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            committed = await committed_offsets(admin, group)
            if _behind(ends, committed) == 0:
                return
            if process is not None:
                process.check_alive()
            if loop.time() > deadline:
                raise TimeoutError(_stall_report(who, topic, timeout, ends, committed, process))
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
        await consumer.stop()


async def uncommitted(settings: Settings, group: str, topic: str) -> int:
    """How many of the messages published so far on ``topic`` consumer ``group`` has not committed."""
    parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
    consumer, admin = new_consumer(settings.kafka), new_admin(settings.kafka)
    await consumer.start()
    await admin.start()
    try:
        return _behind(await consumer.end_offsets(parts), await committed_offsets(admin, group))
    finally:
        await admin.close()
        await consumer.stop()


def _stall_report(who: str, topic: str, timeout: float, ends: dict, committed: dict,
                  process: ServiceProcess | None) -> str:
    """What a wait that ran out of time saw: the lag per partition and the consumer's last words."""
    lags = {tp.partition: _behind({tp: end}, committed) for tp, end in sorted(ends.items())}
    report = f"{who} did not catch up on {topic} in {timeout:.0f}s (messages left per partition: {lags})"
    return report + (f"\nits log ends with:\n{process.log_tail()}" if process is not None else "")


def _behind(ends: dict, committed: dict) -> int:
    """Messages between each partition's committed offset (none: its start) and its end."""
    return sum(max(0, end - max(0, committed[tp].offset if committed.get(tp) else 0)) for tp, end in ends.items())
