"""The worker's Faust app gets the same security as every other client (guard on Faust's mapping)."""

from __future__ import annotations

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from elava.kafka.security import security_options
from elava.settings import load_settings
from streams.drivers.worker.faust_auth import broker_credentials
from tests.certificates import make_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def configurations(certs) -> dict[str, dict]:
    tls = {"ssl_cafile": str(certs.ca), "ssl_certfile": str(certs.client_cert), "ssl_keyfile": str(certs.client_key),
           "ssl_key_password": certs.client_key_password}
    return {
        "ssl": {"security_protocol": "SSL", **tls},
        "sasl_plaintext_plain": {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                                 "sasl_username": "w", "sasl_password": "pw-hidden"},
        "sasl_ssl_scram": {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
                           "sasl_username": "w", "sasl_password": "pw-hidden", **tls},
        "msk_iam": {"security_protocol": "SASL_SSL", "sasl_mechanism": "AWS_MSK_IAM", "msk_region": "eu-west-1"},
    }


def comparable(options: dict) -> dict:
    """Contexts are built per call: compare what they are, not their identity."""
    return {k: (type(v).__name__ if k == "ssl_context" else v) for k, v in options.items() if v is not None}


@pytest.mark.parametrize("name", ["ssl", "sasl_plaintext_plain", "sasl_ssl_scram", "msk_iam"])
def test_faust_builds_its_clients_with_the_same_security_options(certs, name):
    kafka = load_settings(None, **{f"kafka__{k}": v for k, v in configurations(certs)[name].items()}).kafka
    credentials = broker_credentials(kafka)
    assert comparable(credentials_to_aiokafka_auth(credentials)) == comparable(security_options(kafka))
    assert "pw-hidden" not in repr(credentials) and "client-key-secret" not in repr(credentials)


def test_plaintext_gives_faust_no_credentials():
    assert broker_credentials(load_settings(None).kafka) is None
