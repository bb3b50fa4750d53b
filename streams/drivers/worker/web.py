"""The worker's web server: Elava's query API on Faust's aiohttp server, and who may ask.

Any worker answers for the whole group: it asks the others for their partitions
(streams/drivers/worker/cluster.py) at the URL each advertises (`advertised_url`), with the token.

- Beyond loopback only with a token: start-up refuses to bind the API anywhere else
  without ``worker.api_token``, unless ``worker.insecure_api_without_token`` says so.
- With a token, every request needs ``Authorization: Bearer <token>`` (401 otherwise),
  checked by an aiohttp middleware installed through Faust's public
  ``web_application_options`` setting, so it also guards Faust's own pages.
- Faust's own pages (``/table/`` reads table data, ``/router/`` shows the cluster,
  ``/graph/``, statistics, ``/performance/``) are off unless ``worker.faust_pages``;
  faust-streaming 0.15 has one public ``web_*_enabled`` setting per blueprint.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

import faust
from aiohttp import web as aiohttp_web
from pydantic import SecretStr

from elava.exceptions import SettingsError
from elava.settings import Settings, WorkerSettings
from streams.drivers.worker.cluster import (
    LOOKUP,
    PARTITIONS_HEADER,
    Coordinator,
    GroupView,
    Refusal,
    asked_partitions,
    envelope,
)
from streams.drivers.worker.faust_kv import WorkerReadKV
from streams.store.api import ENDPOINTS, OPENAPI, Found, answer_found
from streams.store.queries import TemporalQueries
from streams.store.relation_walk import Lookup, look
from streams.store.versioned import VersionStore

FAUST_PAGE_SETTINGS = ("web_router_enabled", "web_tables_enabled", "web_graph_enabled", "web_stats_enabled",
                       "web_metrics_enabled")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # another host name: it may resolve to anything
        return False


def check_exposure(worker: WorkerSettings) -> None:
    """Refuse to serve the query API beyond this machine to anyone who asks."""
    if worker.web_port == 0 or worker.api_token is not None or is_loopback(worker.web_host):
        return
    if worker.insecure_api_without_token:
        return
    raise SettingsError(
        f"invalid setting 'worker.api_token': the query API would listen on {worker.web_host} (beyond this "
        "machine) without a token; set worker.api_token (ELAVA_WORKER__API_TOKEN), bind worker.web_host to "
        "127.0.0.1, or set worker.insecure_api_without_token: true to serve the store to anyone")


def web_options(worker: WorkerSettings) -> dict[str, Any]:
    """`faust.App` keyword arguments for the web server (after `check_exposure`)."""
    check_exposure(worker)
    options: dict[str, Any] = {
        "web_enabled": worker.web_port > 0, "web_port": worker.web_port or None,
        "web_bind": worker.web_host, "web_host": worker.web_host, "canonical_url": advertised_url(worker),
        **{setting: worker.faust_pages for setting in FAUST_PAGE_SETTINGS},
    }
    if worker.api_token is not None:
        options["web_application_options"] = {"middlewares": [bearer_token_middleware(worker.api_token)]}
    return options


def advertised_url(worker: WorkerSettings) -> str:
    """Where the other workers reach this one (Faust's canonical_url, shared through the assignor)."""
    if worker.advertised_url:
        return worker.advertised_url.rstrip("/")
    host = worker.web_host
    if host in ("0.0.0.0", "::", ""):  # every interface: a name the others can resolve
        host = socket.getfqdn()
    return f"http://{'[' + host + ']' if ':' in host else host}:{worker.web_port}"


def _fingerprint(text: str) -> bytes:
    # Compare digests of equal length: compare_digest then leaks not even the token's length.
    return hashlib.sha256(text.encode()).digest()


def bearer_token_ok(authorization: str | None, token: SecretStr) -> bool:
    """``Authorization: Bearer <token>`` (the scheme in any case), compared in constant time."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    matches = hmac.compare_digest(_fingerprint(given.strip()), _fingerprint(token.get_secret_value()))
    return scheme.lower() == "bearer" and matches


def bearer_token_middleware(token: SecretStr) -> Any:
    @aiohttp_web.middleware
    async def require_bearer_token(request: aiohttp_web.Request, handler: Any) -> aiohttp_web.StreamResponse:
        if not bearer_token_ok(request.headers.get("Authorization"), token):
            return aiohttp_web.json_response(
                {"error": "missing or wrong token: send Authorization: Bearer <worker.api_token>"},
                status=401, headers={"WWW-Authenticate": 'Bearer realm="elava"'})
        return await handler(request)

    return require_bearer_token


def wire_query_api(app: faust.App, table: Any, settings: Settings) -> None:
    """GET /v1/... : time travel, drift and patterns over the whole group's store (read-only);
    this worker asks the others for their partitions (streams/drivers/worker/cluster.py)."""
    def store_of(partitions: frozenset[int]) -> VersionStore:
        return VersionStore(WorkerReadKV(table, partitions))

    def local(path: str, params: Mapping[str, str], partitions: frozenset[int]) -> Found:
        return answer_found(path, TemporalQueries(store_of(partitions)), params, settings.analyzer, part=True)

    view = GroupView(app, table)
    coordinator = Coordinator(view, local, lambda lookup, partitions: look(store_of(partitions), lookup),
                              settings, lambda: app.http_client)
    for path in ENDPOINTS:
        app.page(path)(_query_view(path, coordinator, settings.kafka.partitions))
    app.page(LOOKUP)(_lookup_view(coordinator, settings.kafka.partitions))

    @app.page("/openapi.json")
    async def openapi(self: Any, request: Any) -> Any:
        return self.json(OPENAPI)

    @app.page("/v1/cluster")
    async def cluster(self: Any, request: Any) -> Any:
        owners = view.owners()
        return self.json({"this": view.this, "settled": view.settled(), "partitions": settings.kafka.partitions,
                          "workers": {url: sorted(held) for url, held in sorted(owners.items())}})


def _query_view(path: str, coordinator: Coordinator, partitions: int) -> Any:
    async def view(self: Any, request: Any) -> Any:
        header = request.headers.get(PARTITIONS_HEADER)
        if header is None:  # a client: the whole group's answer
            status, body = await coordinator.answer(path, request.query)
            return self.json(body, status=status, headers={"Retry-After": "1"} if status == 503 else None)
        try:  # another worker: this one's answer for the partitions it holds
            asked = asked_partitions(header, partitions)
            return self.json(envelope(coordinator.answer_part(path, request.query, asked), asked))
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=400)
        except Refusal as refusal:
            return self.json({"error": refusal.reason}, status=refusal.status)

    view.__name__ = "query_" + path.rsplit("/", 1)[-1]
    return view


def _lookup_view(coordinator: Coordinator, partitions: int) -> type[faust.web.View]:
    class LookupView(faust.web.View):
        """POST /v1/lookup, between workers: a relation walk's lookups for the partitions named."""

        async def post(self, request: Any) -> Any:
            try:
                asked = asked_partitions(request.headers.get(PARTITIONS_HEADER) or "", partitions)
                lookup = Lookup.from_json(await request.json())
                found = coordinator.lookup_part(lookup, asked)
            except ValueError as exc:  # a header, a body or JSON that is not what workers send
                return self.json({"error": str(exc)}, status=400)
            except Refusal as refusal:
                return self.json({"error": refusal.reason}, status=refusal.status)
            return self.json(envelope(Found(200, found.to_json()), asked))

    return LookupView
