"""Who may ask the worker's web server, and what it serves (no broker needed)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from elava.exceptions import SettingsError
from elava.settings import load_settings
from streams.drivers.worker.app import create_app
from streams.drivers.worker.web import (
    FAUST_PAGE_SETTINGS,
    bearer_token_middleware,
    bearer_token_ok,
    check_exposure,
    is_loopback,
)

TOKEN = "a-long-enough-api-token-0123456789"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.1.2.3", "worker.internal", "192.168.0.7"])
def test_hosts_beyond_this_machine(host):
    assert not is_loopback(host)


def _worker(**fields):
    return load_settings(None, **{f"worker__{name}": value for name, value in fields.items()}).worker


def test_start_up_refuses_a_non_loopback_bind_without_a_token(tmp_path):
    with pytest.raises(SettingsError, match=r"invalid setting 'worker.api_token'.*0\.0\.0\.0.*insecure_api_without_token"):
        create_app(load_settings(None, worker__web_host="0.0.0.0", worker__data_dir=str(tmp_path)))


@pytest.mark.parametrize("fields", [
    {"web_host": "0.0.0.0", "api_token": TOKEN},
    {"web_host": "0.0.0.0", "insecure_api_without_token": True},  # said out loud
    {"web_host": "0.0.0.0", "web_port": 0},  # no API at all
    {"web_host": "127.0.0.1"},
])
def test_what_may_start(fields):
    check_exposure(_worker(**fields))


def test_a_short_token_is_refused():
    with pytest.raises(SettingsError, match="worker.api_token': .*at least 16 characters"):
        _worker(api_token="secret")


def test_faust_pages_are_off_unless_enabled(tmp_path):
    quiet = create_app(load_settings(None, worker__data_dir=str(tmp_path / "a")))
    assert not any(getattr(quiet.conf, name) for name in FAUST_PAGE_SETTINGS)
    loud = create_app(load_settings(None, worker__faust_pages=True, worker__data_dir=str(tmp_path / "b")))
    assert all(getattr(loud.conf, name) for name in FAUST_PAGE_SETTINGS)


@pytest.mark.parametrize(("header", "ok"), [
    (f"Bearer {TOKEN}", True), (f"bearer {TOKEN}", True), (f"  Bearer   {TOKEN} ", True),
    (None, False), ("", False), ("Bearer", False), ("Bearer wrong", False), (f"Bearer {TOKEN}x", False),
    (f"Basic {TOKEN}", False), (TOKEN, False),
])
def test_bearer_token_check(header, ok):
    assert bearer_token_ok(header, SecretStr(TOKEN)) is ok


async def test_every_request_needs_the_token_when_one_is_set():
    async def hello(request):
        return web.json_response({"hello": "world"})

    app = web.Application(middlewares=[bearer_token_middleware(SecretStr(TOKEN))])
    app.router.add_get("/v1/inventory", hello)
    async with TestClient(TestServer(app)) as client:
        missing = await client.get("/v1/inventory")
        wrong = await client.get("/v1/inventory", headers={"Authorization": "Bearer nope"})
        right = await client.get("/v1/inventory", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (missing.status, wrong.status, right.status) == (401, 401, 200)
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in (await missing.json())["error"]
        assert await right.json() == {"hello": "world"}


def test_the_token_reaches_the_web_server_only_when_set(tmp_path):
    plain = create_app(load_settings(None, worker__data_dir=str(tmp_path / "a")))
    assert not (plain.conf.web_application_options or {}).get("middlewares")
    guarded = create_app(load_settings(None, worker__api_token=TOKEN, worker__data_dir=str(tmp_path / "b")))
    assert len(guarded.conf.web_application_options["middlewares"]) == 1


def test_the_advertised_url_is_where_the_other_workers_reach_this_one(tmp_path):
    import socket

    from streams.drivers.worker.web import advertised_url

    assert advertised_url(_worker(web_port=6070)) == "http://127.0.0.1:6070"
    assert advertised_url(_worker(web_host="0.0.0.0", api_token=TOKEN)) == f"http://{socket.getfqdn()}:6066"
    assert advertised_url(_worker(web_host="fd00::7", api_token=TOKEN)) == "http://[fd00::7]:6066"
    given = _worker(web_host="0.0.0.0", api_token=TOKEN, advertised_url="http://elava-worker-1.elava-worker:6066/")
    assert advertised_url(given) == "http://elava-worker-1.elava-worker:6066"
    app = create_app(load_settings(None, worker__data_dir=str(tmp_path), worker__web_port=6071))
    assert str(app.conf.canonical_url) == "http://127.0.0.1:6071"  # what Faust shares through the group


def test_an_advertised_url_is_an_address_and_nothing_more():
    with pytest.raises(SettingsError, match="worker.advertised_url"):
        _worker(advertised_url="elava-worker-1:6066")
    with pytest.raises(SettingsError, match="worker.advertised_url"):
        _worker(advertised_url="http://elava-worker-1:6066/v1")
