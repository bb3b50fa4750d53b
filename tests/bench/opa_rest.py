"""OPA as a sidecar, for the policy benchmark: `opa run --server` on loopback, the same
policies and generated module as the Wasm engine, inputs POSTed to its REST API one
change per request or a batch per request (``elava_engine/batch``). Measured, not shipped:
the figures in docs/benchmarks.md say why Elava runs OPA's Wasm in-process instead."""

from __future__ import annotations

import http.client
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil

from elava.events import AttributedChange
from streams.policy.bundle import policy_data
from streams.policy.compiled import PACKAGE, TYPES, engine_module
from streams.policy.definitions import Policy
from streams.policy.document import projected_document
from streams.policy.projection import projection_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _documents(policies: list[Policy], changes: list[AttributedChange]) -> list[dict[str, Any]]:
    projections = {}
    documents = []
    for change in changes:
        kind = change.change.type
        if kind not in projections:
            projections[kind] = projection_for([p.source for p in policies if p.applies_to(kind)])
        documents.append(projected_document(change, projections[kind], False))
    return documents


def measure(opa: str, policies: list[Policy], changes: list[AttributedChange], batch: int) -> dict[str, Any]:
    """µs per change through the sidecar: client wall time, and the OPA server's CPU."""
    with tempfile.TemporaryDirectory(prefix="elava-opa-") as scratch:
        root = Path(scratch)
        for policy in policies:
            (root / f"{policy.name}.rego").write_text(policy.source)
        (root / f"{PACKAGE}.rego").write_text(engine_module([p.name for p in policies]))
        data = policy_data(policies)
        data[TYPES] = {p.name: dict.fromkeys(p.resource_types, True) for p in policies if p.resource_types}
        (root / "data.json").write_bytes(orjson.dumps(data))
        port = _free_port()
        server = subprocess.Popen([opa, "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error",
                                   str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            connection = _connect(port)
            documents = [orjson.dumps(d, default=str) for d in _documents(policies, changes)]
            single = _timed(connection, server, [(f"/v1/data/{PACKAGE}/result", b'{"input":' + d + b"}")
                                                 for d in documents[:batch]])
            bodies = [(f"/v1/data/{PACKAGE}/batch",
                       b'{"input":{"batch":[' + b",".join(documents[i:i + batch]) + b"]}}")
                      for i in range(0, len(documents), batch)]
            batched = _timed(connection, server, bodies)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return {
        "one_change_per_request": _per(single, min(batch, len(documents))),
        f"batches_of_{batch}": _per(batched, len(documents)),
    }


def _connect(port: int) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", "/health")
            if connection.getresponse().read() is not None:
                return connection
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _timed(connection: http.client.HTTPConnection, server: subprocess.Popen,
           requests: list[tuple[str, bytes]]) -> tuple[float, float, float]:
    process = psutil.Process(server.pid)
    cpu_before, client_before = sum(process.cpu_times()[:2]), time.process_time()
    started = time.perf_counter()
    for path, body in requests:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        orjson.loads(answer.read())
        if answer.status != 200:
            raise RuntimeError(f"OPA answered {answer.status}")
    wall = time.perf_counter() - started
    return wall, time.process_time() - client_before, sum(process.cpu_times()[:2]) - cpu_before


def _per(timing: tuple[float, float, float], count: int) -> dict[str, float]:
    wall, client, server = timing
    return {"us_wall_per_change": round(wall / count * 1e6, 1),
            "us_cpu_per_change_client": round(client / count * 1e6, 1),
            "us_cpu_per_change_opa_server": round(server / count * 1e6, 1)}
