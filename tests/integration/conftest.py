"""A real Kafka broker for the whole test session.

The broker comes from ``ELAVA_TEST_BOOTSTRAP`` if set (an already running one), from
testcontainers when a Docker engine answers, and otherwise from the project's own
script (``deploy/kafka/kafka.sh``: Maven Central jars, Java 17). If none can be had
the tests fail loudly: integration tests are never skipped for lack of a broker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from elava.demo.simulated import CREDENTIALS, SimulatedAccount, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def _script_env(port: int) -> dict[str, str]:
    return {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(free_port()), "KAFKA_FRESH": "1"}


@pytest.fixture(scope="session")
def kafka_bootstrap():
    given = os.environ.get("ELAVA_TEST_BOOTSTRAP")
    if given:
        yield given
        return
    if _docker_works():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:3.9.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    env = _script_env(free_port())
    started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        pytest.fail(f"could not start the local Kafka broker:\n{started.stdout}\n{started.stderr}", pytrace=False)
    try:
        yield f"127.0.0.1:{env['KAFKA_PORT']}"
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True)


@pytest.fixture
def account(monkeypatch):
    """An empty simulated AWS account (moto's state is per process: reset first)."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name.upper(), value)
    with SimulatedAccount() as simulated:
        simulated.reset()
        yield simulated
