"""TLS and SASL for every Kafka client: settings -> aiokafka options, and why a broker refused us.

``security_options`` is the one mapping from ``kafka.*`` settings to aiokafka's connection
options; elava.kafka.clients adds it to every client and streams/drivers/worker/faust_auth.py hands the same
options to Faust. ``explain_refusal`` turns aiokafka's "Unable to bootstrap" (whose cause
is only logged) into one line that says what the broker objected to and which setting to
check.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from typing import Any

from aiokafka import errors
from aiokafka.abc import AbstractTokenProvider
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.protocol.metadata import MetadataRequest

from elava.exceptions import BrokerUnreachable, KafkaAccessError, SettingsError
from elava.settings import TLS_PROTOCOLS, KafkaSettings

PROBE_TIMEOUT_MS = 10_000
# An MSK IAM token is valid for 15 minutes; a new one is signed when less than this is left.
TOKEN_REFRESH_MARGIN_S = 60


def security_options(kafka: KafkaSettings) -> dict[str, Any]:
    """aiokafka's security options (security_protocol, ssl_context, sasl_*) for these settings."""
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if kafka.security_protocol in TLS_PROTOCOLS:
        options["ssl_context"] = tls_context(kafka)
    if kafka.sasl_mechanism == "AWS_MSK_IAM":
        options |= {"sasl_mechanism": "OAUTHBEARER", "sasl_oauth_token_provider": msk_token_provider(kafka.msk_region)}
    elif kafka.sasl_mechanism is not None:
        options |= {"sasl_mechanism": kafka.sasl_mechanism, "sasl_plain_username": kafka.sasl_username,
                    "sasl_plain_password": kafka.sasl_password.get_secret_value()}
    return options


def tls_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """Verifies the brokers (hostname included) against ssl_cafile or the system's CAs."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=kafka.ssl_cafile)
    except ssl.SSLError as exc:
        raise SettingsError(f"invalid setting 'kafka.ssl_cafile': not a PEM CA certificate ({exc.reason})") from None
    if kafka.ssl_certfile is not None:
        password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
        try:
            context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile, password)
        except ssl.SSLError as exc:
            raise SettingsError(
                "invalid setting 'kafka.ssl_certfile': cannot load the client certificate and key "
                f"({exc.reason}); check kafka.ssl_keyfile and kafka.ssl_key_password") from None
    return context


class MskIamTokenProvider(AbstractTokenProvider):
    """SASL/OAUTHBEARER tokens for MSK IAM, signed with the process's AWS credentials."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._token: str | None = None
        self._expires_at = 0.0

    async def token(self) -> str:
        if self._token is None or time.time() > self._expires_at - TOKEN_REFRESH_MARGIN_S:
            # The signer is synchronous and may ask the instance metadata service for credentials.
            self._token, expiry_ms = await asyncio.to_thread(self._sign)
            self._expires_at = expiry_ms / 1000
        return self._token

    def _sign(self) -> tuple[str, int]:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

        return MSKAuthTokenProvider.generate_auth_token(self.region)

    def __repr__(self) -> str:
        return f"MskIamTokenProvider(region={self.region!r})"


@functools.cache
def msk_token_provider(region: str) -> MskIamTokenProvider:
    """One provider per region and process, so every client reuses a token until it nears expiry."""
    return MskIamTokenProvider(region)


async def explain_refusal(kafka: KafkaSettings) -> KafkaAccessError | BrokerUnreachable | None:
    """Connect to each bootstrap server as a client would; the first refusal, explained (None: all fine)."""
    options = security_options(kafka)
    for host, port, _ in collect_hosts(kafka.bootstrap_servers):
        try:
            conn = await create_conn(host, port, request_timeout_ms=PROBE_TIMEOUT_MS, **options)
            try:
                await conn.send(MetadataRequest([]))
            finally:
                conn.close()
        except (TimeoutError, OSError, errors.KafkaError) as exc:
            if _unreachable(exc):  # nothing listens there: the same words as a start-up probe
                return BrokerUnreachable(f"no Kafka broker answers at {host}:{port} (kafka.bootstrap_servers): "
                                         f"{exc.strerror or exc}")
            return KafkaAccessError(f"Kafka at {host}:{port} {_reason(kafka, exc)}")
    return None


def _unreachable(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError | ConnectionResetError | TimeoutError)


def _reason(kafka: KafkaSettings, exc: BaseException) -> str:
    protocol, mechanism = kafka.security_protocol, kafka.sasl_mechanism
    if isinstance(exc, errors.KafkaConnectionError) and isinstance(exc.__cause__, ssl.SSLError):
        exc = exc.__cause__  # "connection closed" because of what TLS said, e.g. a refused certificate
    if isinstance(exc, ssl.SSLError) and "ALERT" in (exc.reason or "") and "CERTIFICATE" in (exc.reason or ""):
        return (f"rejected the TLS client certificate ({exc.reason}): check kafka.ssl_certfile "
                "(the listener requires one its CA signed)")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"has a TLS certificate this client does not trust ({exc.verify_message}): "
                "check kafka.ssl_cafile and that the address matches the certificate")
    if isinstance(exc, ssl.SSLError):
        return f"failed the TLS handshake ({exc.reason or exc}): check kafka.security_protocol ({protocol}) and kafka.ssl_*"
    if isinstance(exc, (errors.SaslAuthenticationFailed, errors.AuthenticationFailedError)):
        if mechanism == "AWS_MSK_IAM":
            return "refused the IAM token: check the AWS credentials of this process and the cluster's IAM policy"
        return (f"refused the credentials of '{kafka.sasl_username}' ({mechanism}): "
                "check kafka.sasl_username and kafka.sasl_password")
    if isinstance(exc, (errors.UnsupportedSaslMechanismError, errors.IllegalSaslStateError)):
        return f"does not accept sasl_mechanism {mechanism} on this listener: check kafka.sasl_mechanism"
    if isinstance(exc, (TimeoutError, errors.KafkaTimeoutError)):
        return (f"did not answer within {PROBE_TIMEOUT_MS // 1000} s: check kafka.bootstrap_servers and "
                f"kafka.security_protocol ({protocol})")
    if isinstance(exc, (errors.KafkaConnectionError, asyncio.IncompleteReadError, ConnectionResetError)):
        return f"closed the connection during the handshake: {_closed_hint(kafka)}"
    if isinstance(exc, OSError):
        return f"cannot be reached ({exc.strerror or exc}): check kafka.bootstrap_servers"
    return f"refused the connection ({type(exc).__name__}: {exc})"


def _closed_hint(kafka: KafkaSettings) -> str:
    protocol = kafka.security_protocol
    mismatch = f"does kafka.security_protocol ({protocol}) match the listener on that port"
    if protocol not in TLS_PROTOCOLS:
        return f"{mismatch}? (a TLS listener wants SSL or SASL_SSL)"
    if kafka.ssl_certfile is None:
        return f"{mismatch}, or does it require a client certificate (kafka.ssl_certfile)?"
    return f"{mismatch}, and does it trust the client certificate in kafka.ssl_certfile?"
