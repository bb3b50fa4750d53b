"""The worker's broker credentials: the same security as every other client (elava.kafka.security),
in the form Faust takes them (faust-streaming builds its own aiokafka clients from these)."""

from __future__ import annotations

import faust
from faust.types.auth import CredentialsT

from elava.kafka.security import security_options
from elava.settings import KafkaSettings


def broker_credentials(kafka: KafkaSettings) -> CredentialsT | None:
    """None for PLAINTEXT; TLS, SASL (PLAIN/SCRAM) or OAUTHBEARER (MSK IAM) credentials otherwise."""
    options = security_options(kafka)
    protocol, context = options["security_protocol"], options.get("ssl_context")
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    if options["sasl_mechanism"] == "OAUTHBEARER":
        return faust.OAuthCredentials(oauth_cb=options["sasl_oauth_token_provider"], ssl_context=context)
    # SASLCredentials means SASL_SSL when it has a TLS context, SASL_PLAINTEXT when not.
    return faust.SASLCredentials(username=options["sasl_plain_username"], password=options["sasl_plain_password"],
                                 ssl_context=context, mechanism=options["sasl_mechanism"])
