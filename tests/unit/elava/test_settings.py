import re
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
  waste: {enabled: true, idle_threshold: 7d, sweep_interval: 30m}
policies:
  enforcement_mode: notify
  path: ./policies/
""")
    settings = load_settings(path)
    assert settings.providers.aws.regions == ["us-east-1", "us-west-2"]
    assert settings.storage.retention == timedelta(days=30)
    assert settings.analyzer.waste.idle_threshold == timedelta(days=7)
    assert settings.analyzer.waste.sweep_interval == timedelta(minutes=30)


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = tmp_path / "elava.yaml"
    path.write_text("kafka: {bootstrap_servers: 'file:9092'}\n")
    monkeypatch.setenv("ELAVA_KAFKA__BOOTSTRAP_SERVERS", "env:9092")
    assert load_settings(path).kafka.bootstrap_servers == "env:9092"


def test_command_line_flags_override_the_environment_and_sections_merge(tmp_path, monkeypatch):
    path = tmp_path / "elava.yaml"
    path.write_text("kafka: {bootstrap_servers: 'file:9092', partitions: 3, topic_prefix: file}\n")
    monkeypatch.setenv("ELAVA_KAFKA__BOOTSTRAP_SERVERS", "env:9092")
    monkeypatch.setenv("ELAVA_KAFKA__TOPIC_PREFIX", "env")
    kafka = load_settings(path, kafka__bootstrap_servers="flag:9092").kafka
    assert (kafka.bootstrap_servers, kafka.topic_prefix, kafka.partitions) == ("flag:9092", "env", 3)


@pytest.mark.parametrize("yaml_text, field", [
    ("kafka: {partitions: 0}", "kafka.partitions"),
    ("policies: {enforcement_mode: destroy}", "policies.enforcement_mode"),
    ("policies: {evaluation_timeout: 0s}", "policies.evaluation_timeout"),
    ("storage: {retention: forever}", "storage.retention"),
    ("providers: {aws: {regions: []}}", "providers.aws.regions"),
    ("providers: {aws: {account_concurrency: 0}}", "providers.aws.account_concurrency"),
    ("providers: {aws: {calls_per_second: -1}}", "providers.aws.calls_per_second"),
    ("kafka: {max_message_bytes: 1000}", "kafka.max_message_bytes"),  # no room for a page
    ("worker: {instance_id: 'worker 1'}", "worker.instance_id"),  # Kafka refuses the space
    ("kafak: {}", "kafak"),
    ("analyzer: {waste: {sweep_interval: -1h}}", "analyzer.waste.sweep_interval"),
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


SCRAM = "security_protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512"


@pytest.mark.parametrize("kafka_yaml, message", [
    ("security_protocol: SASL_SSL", "kafka.sasl_mechanism is required with security_protocol SASL_SSL"),
    (SCRAM, "kafka.sasl_username is required with security_protocol SASL_SSL and sasl_mechanism SCRAM-SHA-512"),
    (f"{SCRAM}, sasl_username: u", "kafka.sasl_password is required"),
    ("sasl_username: u, sasl_password: p", "kafka.sasl_username is set but kafka.security_protocol is PLAINTEXT"),
    ("security_protocol: SASL_PLAINTEXT, sasl_mechanism: PLAIN, sasl_username: u, sasl_password: p, "
     "ssl_cafile: /etc/hostname", "kafka.ssl_cafile is set but kafka.security_protocol is SASL_PLAINTEXT"),
    ("security_protocol: SSL, ssl_keyfile: /etc/hostname", "kafka.ssl_keyfile and kafka.ssl_key_password need kafka.ssl_certfile"),
    ("security_protocol: SSL, ssl_cafile: /no/such/ca.pem", "invalid setting 'kafka.ssl_cafile': Path does not point to a file"),
    ("security_protocol: TLS", "invalid setting 'kafka.security_protocol'"),
    ("security_protocol: SASL_SSL, sasl_mechanism: GSSAPI", "invalid setting 'kafka.sasl_mechanism'"),
    ("security_protocol: SASL_PLAINTEXT, sasl_mechanism: AWS_MSK_IAM, msk_region: eu-west-1",
     "AWS_MSK_IAM needs kafka.security_protocol SASL_SSL"),
    ("security_protocol: SASL_SSL, sasl_mechanism: AWS_MSK_IAM", "kafka.msk_region is required"),
    ("security_protocol: SASL_SSL, sasl_mechanism: AWS_MSK_IAM, msk_region: eu-west-1, sasl_username: u",
     "kafka.sasl_username is not used with AWS_MSK_IAM"),
    (f"{SCRAM}, sasl_username: u, sasl_password: p, msk_region: eu-west-1", "kafka.msk_region is only used with"),
])
def test_kafka_security_combinations_are_checked_at_start_naming_the_field(tmp_path, kafka_yaml, message):
    path = tmp_path / "elava.yaml"
    path.write_text(f"kafka: {{{kafka_yaml}}}\n")
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(path)


def test_msk_iam_without_the_signer_installed_says_how_to_install_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "aws_msk_iam_sasl_signer" else real(name, *a))
    with pytest.raises(SettingsError, match=re.escape("pip install 'elava[msk]'")):
        load_settings(None, kafka__security_protocol="SASL_SSL", kafka__sasl_mechanism="AWS_MSK_IAM",
                      kafka__msk_region="eu-west-1")


def test_a_complete_security_setup_is_accepted_from_the_environment(monkeypatch):
    for name, value in {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "SCRAM-SHA-256",
                        "SASL_USERNAME": "collector", "SASL_PASSWORD": "pw"}.items():
        monkeypatch.setenv(f"ELAVA_KAFKA__{name}", value)
    kafka = load_settings(None).kafka
    assert (kafka.security_protocol, kafka.sasl_mechanism, kafka.sasl_username) == ("SASL_SSL", "SCRAM-SHA-256",
                                                                                      "collector")
    assert kafka.sasl_password.get_secret_value() == "pw"
