"""A real Kafka broker for the whole test session.

The broker comes from ``ELAVA_TEST_BOOTSTRAP`` if set (an already running one), from
testcontainers when a Docker engine answers, and otherwise from the project's own
script (``deploy/kafka/kafka.sh``: Maven Central jars, Java 17). If none can be had
the tests fail loudly: integration tests are never skipped for lack of a broker.

``KAFKA_VERSION`` (default 3.9.1, as the script's) picks the version the session asks
for, for the Docker image and the script alike; ``test_kafka_version.py`` checks that
the broker runs it, the given one included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from elava.demo.simulated import CREDENTIALS, SimulatedAccount, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def _script_env(port: int, version: str, run_dir: Path) -> dict[str, str]:
    return {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(free_port()), "KAFKA_FRESH": "1",
            "KAFKA_VERSION": version, "ELAVA_KAFKA_RUN": str(run_dir)}


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    version: str | None  # what KAFKA_VERSION asked for; None: a given broker nobody said the version of
    startup_log: Callable[[], str] | None  # what the broker printed when it started; None: not ours to read


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    given = os.environ.get("ELAVA_TEST_BOOTSTRAP")
    if given:
        yield Broker(given, os.environ.get("KAFKA_VERSION"), None)
        return
    version = os.environ.get("KAFKA_VERSION", "3.9.1")
    if _docker_works():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(f"apache/kafka:{version}").with_kraft() as container:
            yield Broker(container.get_bootstrap_server(), version,
                         lambda: b"".join(container.get_logs()).decode(errors="replace"))
        return
    run_dir = Path(os.environ.get("ELAVA_KAFKA_RUN") or tmp_path_factory.mktemp("kafka-run"))
    env = _script_env(free_port(), version, run_dir)
    started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        pytest.fail(f"could not start the local Kafka broker:\n{started.stdout}\n{started.stderr}", pytrace=False)
    log = run_dir / env["KAFKA_PORT"] / "logs" / "server.log"  # the script's run dir is keyed by port
    try:
        yield Broker(f"127.0.0.1:{env['KAFKA_PORT']}", version, lambda: log.read_text(errors="replace"))
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker):
    return kafka_broker.bootstrap


@pytest.fixture
def account(monkeypatch):
    """An empty simulated AWS account (moto's state is per process: reset first)."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name.upper(), value)
    with SimulatedAccount() as simulated:
        simulated.reset()
        yield simulated


@pytest.fixture(scope="package", autouse=True)
def workers_keep_the_tests_dates():
    """The data of these tests carries fixed dates (tests/unit/streams/fixtures.py: T0 =
    2026-11-01), and a worker's retention counts back from the wall clock: once those dates
    were older than the default 30 days (2026-12-01), the workers the tests start dropped the
    tests' own versions mid-test (a deleted resource removed, then a replayed page created it
    again). The settings these tests load, and so their workers, keep a century; retention
    has its own tests, on explicit times. For this package only: the unit tests of the same
    session read the defaults."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ELAVA_STORAGE__RETENTION", "36500d")
        yield
