"""`elava executor` says loudly which mode it runs in, and --enforce is the only way out of dry-run."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from elava.cli.main import app

runner = CliRunner()


@pytest.fixture
def started(monkeypatch):
    """The settings the executor would have run with (no broker needed)."""
    seen = []

    async def no_topics(kafka):
        return None

    async def run(settings, stop):
        seen.append(settings)

    monkeypatch.setattr("elava.kafka.clients.ensure_topics", no_topics)
    monkeypatch.setattr("streams.drivers.executor.service.run_executor", run)
    monkeypatch.setenv("ELAVA_CONFIG", "/dev/null")
    monkeypatch.delenv("ELAVA_EXECUTOR__DRY_RUN", raising=False)
    monkeypatch.setenv("ELAVA_SIGNING__KEYS", '{"k1": "0123456789abcdef0123456789abcdef"}')
    return seen


def test_dry_run_is_the_default_and_says_so(started):
    result = runner.invoke(app, ["executor", "-b", "127.0.0.1:1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "DRY-RUN" in result.output and "WARNING" not in result.output
    assert started[0].executor.dry_run


def test_enforce_warns_loudly(started):
    result = runner.invoke(app, ["executor", "-b", "127.0.0.1:1", "--enforce"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "WARNING: executor in ENFORCE mode" in result.output
    assert not started[0].executor.dry_run


def test_enforce_from_the_environment_warns_too(started, monkeypatch):
    monkeypatch.setenv("ELAVA_EXECUTOR__DRY_RUN", "false")
    result = runner.invoke(app, ["executor", "-b", "127.0.0.1:1"], env={"COLUMNS": "200"})
    assert "WARNING: executor in ENFORCE mode" in result.output


def test_enforce_without_a_signing_key_refuses_to_start(started, monkeypatch):
    monkeypatch.delenv("ELAVA_SIGNING__KEYS")
    result = runner.invoke(app, ["executor", "-b", "127.0.0.1:1", "--enforce"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and started == []
    assert "invalid setting 'signing.keys'" in result.output and "allow_unsigned" in result.output


def test_enforce_unsigned_only_when_said_so(started, monkeypatch):
    monkeypatch.delenv("ELAVA_SIGNING__KEYS")
    monkeypatch.setenv("ELAVA_EXECUTOR__ALLOW_UNSIGNED", "true")
    result = runner.invoke(app, ["executor", "-b", "127.0.0.1:1", "--enforce"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert started[0].executor.allow_unsigned and not started[0].executor.dry_run
