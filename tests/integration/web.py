"""Asking a worker's web server, as any HTTP client would."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from elava.processes.worker_process import WorkerProcess


def http_get(port: int, path: str, token: str | None = None) -> tuple[int, Any]:
    """(status, JSON body — or text when it is not JSON) of ``GET http://127.0.0.1:<port><path>``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


async def wait_for_web(worker: WorkerProcess, port: int, timeout: float = 120.0) -> None:
    """Until the worker's web server answers at all (it starts after the tables recover)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            await asyncio.to_thread(http_get, port, "/")
            return
        except OSError:  # not listening yet
            worker.check_alive()
            if loop.time() > deadline:
                raise TimeoutError(f"the worker's web server did not answer on port {port} in {timeout:.0f}s") from None
            await asyncio.sleep(0.3)
