"""Where the query commands get their answers: the local store, or the workers' query API.

Each query command asks one endpoint of the query API (streams/store/api.py) through
a `QuerySource`: on the embedded store it runs the endpoint's function in this process;
with ``--api URL`` (or ``api.url``) it asks a worker over HTTP, and any worker answers for
the whole group. Both give the same JSON, so a command renders one shape either way.

A command gains ``--api`` in one line (docs/api.md, "From the command line"):

    def waste(..., api: ApiOpt = None, config: ConfigOpt = None) -> None:
        with query_source(config, api) as source:
            rows = source.ask("/v1/waste", {"since": ...})
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from pydantic import SecretStr

from elava.cli.common import settings_or_exit
from elava.exceptions import ElavaError
from elava.settings import AnalyzerSettings, Settings

ApiOpt = Annotated[str | None, typer.Option(
    "--api", metavar="URL", help="Ask the workers' query API (any worker, e.g. http://127.0.0.1:6066) instead of "
    "the local store; or set api.url (ELAVA_API__URL). Sends worker.api_token.")]
RETRY_SECONDS = 1.0


class QueryFailed(ElavaError):
    """The query was answered with an error (a 4xx or 5xx), or not at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class QuerySource(Protocol):
    def ask(self, path: str, params: Mapping[str, str]) -> Any:
        """The JSON answer of ``path?params``; QueryFailed for an error answer."""
        ...


class LocalSource:
    """The embedded store, through the same functions the workers serve."""

    def __init__(self, queries: Any, analyzer: AnalyzerSettings) -> None:
        self.queries, self.analyzer = queries, analyzer

    def ask(self, path: str, params: Mapping[str, str]) -> Any:
        from streams.store.api import answer

        status, body = answer(path, self.queries, params, self.analyzer)
        if status != 200:
            raise QueryFailed(body.get("error", f"answered {status}"), status)
        return body


class RemoteSource:
    """A worker's query API over HTTP; while the workers rebalance (503) it asks again."""

    def __init__(self, url: str, token: SecretStr | None, timeout: float) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def ask(self, path: str, params: Mapping[str, str]) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            status, body = self._get(path, params)
            if status == 200:
                return body
            if status != 503 or time.monotonic() + RETRY_SECONDS > deadline:
                raise QueryFailed(self._explain(status, body), status)
            time.sleep(RETRY_SECONDS)

    def _get(self, path: str, params: Mapping[str, str]) -> tuple[int, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        headers = {"Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        request = urllib.request.Request(f"{self.url}{path}?{query}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise QueryFailed(f"cannot reach the query API at {self.url}: {reason} (--api, api.url)") from None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, {"error": raw[:200].decode(errors="replace")}

    def _explain(self, status: int, body: Any) -> str:
        if status == 401:
            return (f"the query API at {self.url} refused the request: "
                    f"{'wrong' if self.token else 'no'} token (set worker.api_token, ELAVA_WORKER__API_TOKEN)")
        error = body.get("error") if isinstance(body, dict) else None
        return error or f"the query API at {self.url} answered {status}"


def remote_source(settings: Settings) -> RemoteSource | None:
    """The workers' API if the settings (or --api) name one."""
    if not settings.api.url:
        return None
    return RemoteSource(settings.api.url, settings.worker.api_token, settings.api.timeout.total_seconds())


@contextmanager
def query_source(config: Path | None, api: str | None) -> Iterator[QuerySource]:
    """The workers' query API (``--api`` or ``api.url``), else the local store opened read-only."""
    settings = settings_or_exit(config, api__url=api)
    remote = remote_source(settings)
    if remote is not None:
        yield remote
        return
    from streams.store.kv import RocksKV
    from streams.store.queries import TemporalQueries
    from streams.store.versioned import VersionStore

    kv = RocksKV(settings.storage.path, read_only=True)  # StoreError: one line, exit 1
    try:
        yield LocalSource(TemporalQueries(VersionStore(kv)), settings.analyzer)
    finally:
        kv.close()
