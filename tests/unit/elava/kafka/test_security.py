"""kafka.* security settings -> what every aiokafka client is built with."""

from __future__ import annotations

import base64
import ssl
from urllib.parse import parse_qs, urlparse

import pytest

from elava.exceptions import SettingsError
from elava.kafka.clients import client_options
from elava.kafka.security import MskIamTokenProvider, explain_refusal, msk_token_provider, security_options
from elava.processes.worker_process import kafka_env
from elava.settings import KafkaSettings, load_settings
from tests.certificates import make_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def kafka(**fields) -> KafkaSettings:
    return load_settings(None, **{f"kafka__{k}": v for k, v in fields.items()}).kafka


def scram(certs, **more) -> KafkaSettings:
    return kafka(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="collector",
                 sasl_password="pw-123", ssl_cafile=str(certs.ca), **more)


def test_plaintext_is_the_default_and_carries_no_security():
    assert client_options(KafkaSettings()) == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_carries_the_credentials_and_a_verifying_tls_context(certs):
    options = client_options(scram(certs, bootstrap_servers="b1:9096,b2:9096"))
    context = options.pop("ssl_context")
    assert options == {"bootstrap_servers": "b1:9096,b2:9096", "security_protocol": "SASL_SSL",
                       "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "collector",
                       "sasl_plain_password": "pw-123"}
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(field[0] for field in ca["subject"])["commonName"] for ca in context.get_ca_certs()] == [
        "Elava test CA"]


def test_sasl_plaintext_with_plain_has_no_tls():
    options = security_options(kafka(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                                     sasl_username="u", sasl_password="p"))
    assert options == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                       "sasl_plain_username": "u", "sasl_plain_password": "p"}


def test_ssl_without_a_cafile_trusts_the_system_cas():
    options = security_options(kafka(security_protocol="SSL"))
    assert set(options) == {"security_protocol", "ssl_context"}
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED and options["ssl_context"].check_hostname


def test_the_client_certificate_is_loaded_with_its_key_password(certs):
    settings = kafka(security_protocol="SSL", ssl_cafile=str(certs.ca), ssl_certfile=str(certs.client_cert),
                     ssl_keyfile=str(certs.client_key), ssl_key_password=certs.client_key_password)
    assert isinstance(security_options(settings)["ssl_context"], ssl.SSLContext)


def test_a_wrong_key_password_names_the_settings(certs):
    settings = kafka(security_protocol="SSL", ssl_certfile=str(certs.client_cert), ssl_keyfile=str(certs.client_key),
                     ssl_key_password="wrong")
    with pytest.raises(SettingsError, match=r"kafka.ssl_certfile.*kafka.ssl_key_password") as caught:
        security_options(settings)
    assert "wrong" not in str(caught.value)


def test_a_cafile_that_is_no_certificate_is_named(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(SettingsError, match="invalid setting 'kafka.ssl_cafile'"):
        security_options(kafka(security_protocol="SSL", ssl_cafile=str(bogus)))


def test_msk_iam_signs_a_token_with_the_process_credentials_and_reuses_it(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    settings = kafka(security_protocol="SASL_SSL", sasl_mechanism="AWS_MSK_IAM", msk_region="eu-west-1")
    options = security_options(settings)
    provider = options["sasl_oauth_token_provider"]
    assert options["sasl_mechanism"] == "OAUTHBEARER" and isinstance(options["ssl_context"], ssl.SSLContext)
    assert provider is msk_token_provider("eu-west-1")  # every client shares one token

    import asyncio

    first, second = asyncio.run(provider.token()), asyncio.run(provider.token())
    url = urlparse(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode())
    query = parse_qs(url.query)
    assert url.hostname == "kafka.eu-west-1.amazonaws.com" and query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert second == first
    assert "secret-example" not in repr(provider)


def test_an_expiring_msk_token_is_signed_again(monkeypatch):
    provider = MskIamTokenProvider("us-east-1")
    signed = iter([("token-1", 0), ("token-2", 10**15)])
    monkeypatch.setattr(provider, "_sign", lambda: next(signed))
    import asyncio

    assert asyncio.run(provider.token()) == "token-1"
    assert asyncio.run(provider.token()) == "token-2"  # the first had expired
    assert asyncio.run(provider.token()) == "token-2"


def test_passwords_are_masked_in_repr_but_reach_a_child_process(certs):
    settings = load_settings(None, kafka__security_protocol="SASL_SSL", kafka__sasl_mechanism="SCRAM-SHA-256",
                             kafka__sasl_username="worker", kafka__sasl_password="pw-top-secret",
                             kafka__ssl_certfile=str(certs.client_cert), kafka__ssl_keyfile=str(certs.client_key),
                             kafka__ssl_key_password="key-top-secret")
    assert "top-secret" not in repr(settings) and "top-secret" not in str(settings)
    env = kafka_env(settings.kafka)
    assert env["ELAVA_KAFKA__SASL_PASSWORD"] == "pw-top-secret"
    assert env["ELAVA_KAFKA__SSL_KEY_PASSWORD"] == "key-top-secret"
    assert env["ELAVA_KAFKA__SSL_CERTFILE"] == str(certs.client_cert)
    assert "ELAVA_KAFKA__MSK_REGION" not in env  # unset fields stay unset


async def test_an_unreachable_broker_is_explained_naming_the_setting():
    from elava.demo.simulated import free_port

    port = free_port()  # nothing listens there
    refusal = await explain_refusal(KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"))
    assert str(refusal).startswith(f"no Kafka broker answers at 127.0.0.1:{port} (kafka.bootstrap_servers): ")
    assert "Connect call failed" in str(refusal)  # why, as the connection saw it
