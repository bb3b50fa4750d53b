from datetime import UTC, datetime, timedelta

from collectors.requests import due_requests
from elava.settings import load_settings

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def settings(tmp_path):
    path = tmp_path / "elava.yaml"
    path.write_text("""
tiers:
  - {name: critical, interval: 5m, accounts: ["111111111111"]}
  - {name: default, interval: 1h}
""")
    return load_settings(path)


def test_each_tier_requests_its_accounts_when_due(tmp_path):
    config, last_run = settings(tmp_path), {}
    first = due_requests(config, ["111111111111", "222222222222"], last_run, NOW)
    assert sorted((r.tier, r.account) for r in first) == [
        ("critical", "111111111111"), ("default", "111111111111"), ("default", "222222222222")]

    later = due_requests(config, ["111111111111", "222222222222"], last_run, NOW + timedelta(minutes=6))
    assert [(r.tier, r.account) for r in later] == [("critical", "111111111111")]


def test_requests_are_deterministic_per_account_tier_and_time(tmp_path):
    config = settings(tmp_path)
    one = due_requests(config, ["111111111111"], {}, NOW)
    two = due_requests(config, ["111111111111"], {}, NOW)
    assert [r.event_id for r in one] == [r.event_id for r in two]
