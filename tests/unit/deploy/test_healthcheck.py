"""deploy/healthcheck.py, the image's HEALTHCHECK: run as Docker runs it, against real
sockets (a listening port standing for Kafka, an HTTP server for the query API)."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.unit.deploy.checks import REPO

SCRIPT = REPO / "deploy" / "healthcheck.py"


@contextmanager
def listening() -> Iterator[int]:
    """A TCP port that accepts connections (all a bootstrap check asks of Kafka)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def http_answering(status: int) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def process(*elava_args: str) -> Iterator[int]:
    """A process whose command line is `... elava <args>`, as PID 1 of a container is."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "elava", *elava_args])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def health(pid: int, kafka_port: int, api_port: int | None, tmp_path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELAVA_")}
    env["ELAVA_KAFKA__BOOTSTRAP_SERVERS"] = f"127.0.0.1:{kafka_port}"
    if api_port is not None:
        env["ELAVA_WORKER__WEB_PORT"] = str(api_port)
    env["PYTHONPATH"] = str(REPO)  # this checkout's elava, as the image's installed one
    return subprocess.run([sys.executable, str(SCRIPT), "--pid", str(pid), "--timeout", "2"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)


def test_a_worker_is_healthy_when_kafka_and_its_query_api_answer(tmp_path):
    with listening() as kafka, http_answering(200) as api, process("worker") as pid:
        done = health(pid, kafka, api, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "healthy: elava worker"


def test_an_api_that_wants_a_token_is_an_api_that_is_up(tmp_path):
    with listening() as kafka, http_answering(401) as api, process("worker") as pid:
        assert health(pid, kafka, api, tmp_path).returncode == 0


@pytest.mark.parametrize("status", [500, 503])
def test_a_worker_whose_api_fails_is_unhealthy(tmp_path, status):
    with listening() as kafka, http_answering(status) as api, process("worker") as pid:
        done = health(pid, kafka, api, tmp_path)
    assert done.returncode == 1
    assert f"answered {status}" in done.stdout


def test_a_worker_whose_api_does_not_listen_is_unhealthy(tmp_path):
    with listening() as kafka, process("worker", "--loglevel", "INFO") as pid:
        done = health(pid, kafka, closed_port(), tmp_path)
    assert done.returncode == 1
    assert "query API" in done.stdout and "does not answer" in done.stdout


def test_a_collector_needs_kafka_only(tmp_path):
    with listening() as kafka, process("collect", "--serve") as pid:
        done = health(pid, kafka, closed_port(), tmp_path)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip() == "healthy: elava collect"


def test_without_kafka_every_service_is_unhealthy(tmp_path):
    for command in (("collect", "--serve"), ("executor",), ("schedule",)):
        with process(*command) as pid:
            done = health(pid, closed_port(), None, tmp_path)
        assert done.returncode == 1, command
        assert "no Kafka bootstrap server reachable" in done.stdout


def test_bad_settings_are_unhealthy_and_named(tmp_path):
    (tmp_path / "elava.yaml").write_text("kafka:\n  partitions: 0\n")
    with listening() as kafka, process("executor") as pid:
        done = health(pid, kafka, None, tmp_path)
    assert done.returncode == 1
    assert "kafka.partitions" in done.stdout


@pytest.mark.parametrize(("cmdline", "command"), [
    (["/usr/local/bin/python3.11", "/usr/local/bin/elava", "worker"], ["worker"]),
    (["python", "-m", "elava", "collect", "--serve"], ["collect", "--serve"]),
    (["elava", "trail", "collect"], ["trail", "collect"]),
    (["python", "deploy/compose/play_story.py", "--endpoint-url", "x"], []),
])
def test_the_command_is_read_after_the_elava_program(cmdline, command):
    import importlib.util

    spec = importlib.util.spec_from_file_location("healthcheck", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.elava_command(cmdline) == command
