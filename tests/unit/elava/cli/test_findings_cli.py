"""`elava drift` and `elava patterns` on an embedded store, and over HTTP from a query API."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import pytest
from typer.testing import CliRunner

from elava.cli.main import app
from streams.process import PartitionProcessor
from streams.store.api import answer
from streams.store.kv import RocksKV
from streams.store.queries import TemporalQueries
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, marker, page, sg, shard

SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
OFFICE = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "10.0.0.0/8"}
MINUTE = timedelta(minutes=1)
SINCE, UNTIL = T0.isoformat(), (T0 + 60 * MINUTE).isoformat()


def build(kv):
    """sg-1 (terraform) opened to the world by hand; sg-2 opened to the office; sg-3 lived 5 minutes."""
    processor = PartitionProcessor(VersionStore(kv))
    processor.process(page([sg("sg-1", {"ManagedBy": "terraform"})], T0, scan="a"))
    processor.process(page([sg("sg-1", {"ManagedBy": "terraform"}, ingress=[SSH])], T0 + MINUTE, scan="b"))
    processor.process(page([sg("sg-2")], T0, scan="c"))
    processor.process(page([sg("sg-2", ingress=[OFFICE])], T0 + 2 * MINUTE, scan="d"))
    processor.process(page([sg("sg-3")], T0, scan="e"))
    others = [sg(i) for i in ("sg-1", "sg-2") if shard(sg(i)) == shard(sg("sg-3"))]
    processor.process(marker(shard(sg("sg-3")), others, T0 + 5 * MINUTE, scan="f"))


@pytest.fixture
def config(tmp_path):
    kv = RocksKV(tmp_path / "store")
    build(kv)
    kv.close()
    path = tmp_path / "elava.yaml"
    path.write_text(f"storage:\n  path: {tmp_path / 'store'}\n")
    return path


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "220"})


def json_rows(result):
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_drift_from_the_local_store(config):
    rows = json_rows(run("drift", "--since", SINCE, "--until", UNTIL, "-o", "json", "-c", config))
    assert [(r["uid"].rsplit("/", 1)[-1], r["severity"], r["out_of_band"]) for r in rows] == [
        ("sg-1", "critical", True), ("sg-2", "low", False)]
    high = json_rows(run("drift", "--since", SINCE, "--until", UNTIL, "--severity", "high", "-o", "json", "-c", config))
    assert [r["owner"] for r in high] == ["terraform"]
    table = run("drift", "--since", SINCE, "--until", UNTIL, "-c", config)
    assert table.exit_code == 0 and "owned by terraform" in table.output and "2 drift (1 out-of-band)" in table.output
    assert run("drift", "--severity", "dire", "-c", config).exit_code == 2


def test_patterns_from_the_local_store(config):
    rows = json_rows(run("patterns", "--since", SINCE, "--until", UNTIL, "-o", "json", "-c", config))
    assert [(r["pattern"], r["name"]) for r in rows] == [("short-lived", "sg-3")]
    table = run("patterns", "--since", SINCE, "--until", UNTIL, "-c", config)
    assert table.exit_code == 0 and "short-lived" in table.output and "1 pattern\n" in table.output


def test_history_shows_the_drift_of_each_version(config):
    result = run("history", sg("sg-1").uid, "-o", "json", "-c", config)
    rows = json_rows(result)
    assert [(r["version"], (r["drift"] or {}).get("rules")) for r in rows] == [
        (1, None), (2, ["out-of-band", "world-open-admin-port"])]


@pytest.fixture
def worker(tmp_path):
    """A query API over HTTP (streams.store.api.answer, as the worker serves it), with a token."""
    kv = RocksKV(tmp_path / "served")
    build(kv)
    queries = TemporalQueries(VersionStore(kv))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.headers.get("Authorization") != "Bearer s3cret-token-of-the-test-worker":
                status, body = 401, {"error": "missing or wrong token"}
            else:
                url = urlparse(self.path)
                status, body = answer(url.path, queries, dict(parse_qsl(url.query)))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    kv.close()


def test_drift_and_patterns_from_the_query_api(worker, tmp_path, monkeypatch):
    monkeypatch.setenv("ELAVA_WORKER__API_TOKEN", "s3cret-token-of-the-test-worker")
    rows = json_rows(run("drift", "--since", SINCE, "--until", UNTIL, "--type", "ec2.*", "-o", "json",
                         "--api", worker))
    assert [(r["severity"], r["out_of_band"]) for r in rows] == [("critical", True), ("low", False)]
    rows = json_rows(run("patterns", "--since", SINCE, "--until", UNTIL, "-o", "json", "--api", worker))
    assert [r["pattern"] for r in rows] == ["short-lived"]


def test_a_worker_that_refuses_says_why(worker, monkeypatch):
    monkeypatch.delenv("ELAVA_WORKER__API_TOKEN", raising=False)
    result = run("drift", "--api", worker)
    assert result.exit_code == 1 and "refused the request: no token" in result.output
    result = run("drift", "--api", "http://127.0.0.1:9")
    assert result.exit_code == 1 and "cannot reach the query API at http://127.0.0.1:9" in result.output
