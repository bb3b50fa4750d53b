from datetime import timedelta

import pytest

from elava.exceptions import SettingsError
from elava.settings import load_settings, parse_duration


def test_seed_yaml_is_accepted(tmp_path):
    path = tmp_path / "elava.yaml"
    path.write_text("""
providers:
  aws:
    regions: [us-east-1, us-west-2]
storage:
  path: /var/lib/elava
  retention: 30d
analyzer:
  drift: {enabled: true, attribution: true}
  waste: {enabled: true, idle_threshold: 7d}
policies:
  enforcement_mode: notify
  path: ./policies/
""")
    settings = load_settings(path)
    assert settings.providers.aws.regions == ["us-east-1", "us-west-2"]
    assert settings.storage.retention == timedelta(days=30)
    assert settings.analyzer.waste.idle_threshold == timedelta(days=7)


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = tmp_path / "elava.yaml"
    path.write_text("kafka: {bootstrap_servers: 'file:9092'}\n")
    monkeypatch.setenv("ELAVA_KAFKA__BOOTSTRAP_SERVERS", "env:9092")
    assert load_settings(path).kafka.bootstrap_servers == "env:9092"


@pytest.mark.parametrize("yaml_text, field", [
    ("kafka: {partitions: 0}", "kafka.partitions"),
    ("policies: {enforcement_mode: destroy}", "policies.enforcement_mode"),
    ("storage: {retention: forever}", "storage.retention"),
    ("providers: {aws: {regions: []}}", "providers.aws.regions"),
    ("providers: {aws: {account_concurrency: 0}}", "providers.aws.account_concurrency"),
    ("providers: {aws: {calls_per_second: -1}}", "providers.aws.calls_per_second"),
    ("kafka: {max_message_bytes: 1000}", "kafka.max_message_bytes"),  # no room for a page
    ("kafak: {}", "kafak"),
])
def test_bad_settings_name_the_field(tmp_path, yaml_text, field):
    path = tmp_path / "elava.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SettingsError, match=f"invalid setting '{field}'"):
        load_settings(path)


def test_unreadable_yaml_is_a_settings_error(tmp_path):
    path = tmp_path / "elava.yaml"
    path.write_text("kafka: [unclosed")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(path)


def test_secrets_are_masked_when_printed(tmp_path):
    path = tmp_path / "elava.yaml"
    path.write_text("providers: {aws: {role_name: audit, external_id: s3cr3t}}")
    settings = load_settings(path)
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())
    assert settings.providers.aws.external_id.get_secret_value() == "s3cr3t"


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("2h", 7200), ("30d", 2592000), (5, 5), ("6.5", 6.5)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_tiers_have_their_own_intervals_accounts_and_types(tmp_path):
    path = tmp_path / "elava.yaml"
    path.write_text("""
tiers:
  - {name: critical, interval: 5m, accounts: ["111111111111"], types: [ec2.security-group]}
  - {name: production, interval: 1h, tags: {env: prod}}
""")
    critical, production = load_settings(path).tiers
    assert critical.interval == timedelta(minutes=5) and critical.has_account("111111111111")
    assert not critical.has_account("222222222222") and production.has_account("222222222222")
    assert production.tags == {"env": "prod"} and critical.types == ["ec2.security-group"]
