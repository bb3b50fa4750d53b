"""The worker's web server answers only whom it should, with only Elava's pages (real worker process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
from typer.testing import CliRunner

from elava.cli.main import app
from elava.demo.simulated import free_port
from elava.kafka.clients import ensure_topics
from elava.processes.worker_process import WorkerProcess, worker_env
from elava.settings import load_settings
from tests.integration.web import http_get, wait_for_web

pytestmark = pytest.mark.integration
TOKEN = f"api-token-{uuid.uuid4().hex}"
# What faust-streaming 0.15 serves by default: table data, cluster topology, its service
# graph, sensor statistics and the partition assignment, metrics.
FAUST_PAGES = ("/table/", "/table/mvcc/", "/router/", "/graph/", "/assignment/", "/performance/")


def _settings(kafka_bootstrap, tmp_path, **overrides):
    run = f"api-{uuid.uuid4().hex[:6]}"
    return load_settings(None, kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run,
                         kafka__partitions=2, worker__app_id=run, worker__data_dir=str(tmp_path / run),
                         worker__web_port=free_port(), policies__enabled=False, **overrides)


async def _serving(settings, tmp_path):
    await ensure_topics(settings.kafka)
    worker = WorkerProcess(settings, tmp_path / f"{settings.worker.app_id}.log")
    worker.start()
    await wait_for_web(worker, settings.worker.web_port)
    return worker


async def _get(settings, path, token=None):
    return await asyncio.to_thread(http_get, settings.worker.web_port, path, token)


async def test_with_a_token_every_request_needs_it_and_faust_pages_are_not_served(kafka_bootstrap, tmp_path):
    settings = _settings(kafka_bootstrap, tmp_path, worker__api_token=TOKEN)
    worker = await _serving(settings, tmp_path)
    try:
        for path in ("/v1/inventory", "/v1/changes?since=1h", "/v1/drift", "/v1/patterns", "/openapi.json", "/"):
            assert (await _get(settings, path))[0] == 401, path
            assert (await _get(settings, path, "wrong-token-0123456789"))[0] == 401, path
        assert await _get(settings, "/v1/inventory", TOKEN) == (200, [])
        assert await _get(settings, "/v1/drift?severity=high", TOKEN) == (200, [])
        assert await _get(settings, "/v1/patterns?since=7d", TOKEN) == (200, [])
        assert (await _get(settings, "/v1/drift?severity=dire", TOKEN))[0] == 400
        status, spec = await _get(settings, "/openapi.json", TOKEN)
        assert status == 200 and "/v1/inventory" in spec["paths"]
        for path in FAUST_PAGES:
            assert (await _get(settings, path, TOKEN))[0] == 404, path
        api = ["--api", f"http://127.0.0.1:{settings.worker.web_port}"]
        refused = CliRunner().invoke(app, ["at", "now", *api], env={"ELAVA_WORKER__API_TOKEN": None})
        assert refused.exit_code == 1 and "refused the request: no token (set worker.api_token" in refused.stderr
        asked = CliRunner().invoke(app, ["at", "now", "-o", "json", *api], env={"ELAVA_WORKER__API_TOKEN": TOKEN})
        assert asked.exit_code == 0 and asked.stdout == "", asked.output  # the CLI sends the token: an empty store
    finally:
        worker.stop()


async def test_faust_pages_only_when_enabled_and_then_behind_the_token(kafka_bootstrap, tmp_path):
    settings = _settings(kafka_bootstrap, tmp_path, worker__api_token=TOKEN, worker__faust_pages=True)
    worker = await _serving(settings, tmp_path)
    try:
        status, tables = await _get(settings, "/table/", TOKEN)
        assert status == 200 and "mvcc" in str(tables)
        assert (await _get(settings, "/router/", TOKEN))[0] == 200
        assert (await _get(settings, "/table/"))[0] == 401
    finally:
        worker.stop()


async def test_without_a_token_the_api_stays_on_loopback_and_open_there(kafka_bootstrap, tmp_path):
    settings = _settings(kafka_bootstrap, tmp_path)
    worker = await _serving(settings, tmp_path)
    try:
        assert await _get(settings, "/v1/inventory") == (200, [])
        assert (await _get(settings, "/table/"))[0] == 404
    finally:
        worker.stop()


def test_the_worker_refuses_to_serve_beyond_loopback_without_a_token(kafka_bootstrap, tmp_path):
    settings = _settings(kafka_bootstrap, tmp_path, worker__web_host="0.0.0.0")
    env = {**worker_env(settings), "ELAVA_WORKER__WEB_HOST": "0.0.0.0"}
    env.pop("ELAVA_WORKER__API_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "elava", "worker"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=os.getcwd())
    assert done.returncode != 0
    assert "invalid setting 'worker.api_token'" in done.stderr and "0.0.0.0" in done.stderr
