"""`elava scan` follows analyzer.drift: what the collector hands over is processed with it.

The collector is replaced by a feeder that hands the sink the pages it would publish (an
open SSH rule appearing between two scans); the store, the pipeline and the policies are real.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.events import utcnow
from elava.settings import Settings
from streams.drivers.embedded import scan as embedded
from tests.unit.streams.fixtures import page, sg

SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}


async def scan_with(settings: Settings, monkeypatch, resource, scan: str):
    async def feed(_settings, sink, _types=None, _accounts=None, _details=None):
        await sink.page(page([resource], utcnow() - timedelta(minutes=1), scan=scan))
        return []

    async def no_accounts(_settings):
        return []

    monkeypatch.setattr(embedded, "discover_accounts", no_accounts)
    monkeypatch.setattr(embedded, "scan_once", feed)
    return await embedded.embedded_scan(settings)


@pytest.mark.parametrize(("drift", "expected"), [({}, ["critical"]), ({"enabled": False}, [])])
async def test_a_scan_reports_drift_only_when_drift_is_enabled(tmp_path, monkeypatch, drift, expected):
    settings = Settings(storage={"path": tmp_path / "store"}, analyzer={"drift": drift}, policies={"enabled": False})
    await scan_with(settings, monkeypatch, sg("sg-1"), "s1")
    opened = await scan_with(settings, monkeypatch, sg("sg-1", ingress=[SSH_WORLD]), "s2")
    assert [change.kind for change in opened.outputs.changes] == ["modified"]
    assert [event.severity for event in opened.outputs.drift] == expected
