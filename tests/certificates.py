"""Certificates made on the spot: a CA, a broker certificate for 127.0.0.1/localhost, a client one."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path  # PKCS#8, unencrypted (what Kafka's PEM keystore reads)
    client_cert: Path
    client_key: Path  # PKCS#8, encrypted with client_key_password
    client_key_password: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Elava tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: x509.Name, issuer_key, *, ca: bool = False,
                 hosts: tuple[str, ...] = ()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
    else:
        # The broker's certificate also serves as its client certificate towards itself.
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if hosts:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(directory: Path, client_key_password: str = "client-key-secret") -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Elava test CA", ca_key, _name("Elava test CA"), ca_key, ca=True)
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = _certificate("localhost", server_key, ca.subject, ca_key, hosts=("127.0.0.1", "localhost"))
    client = _certificate("elava-client", client_key, ca.subject, ca_key)
    files = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem",
                         directory / "client.pem", directory / "client-key.pem", client_key_password)
    files.ca.write_bytes(ca.public_bytes(PEM))
    files.server_cert.write_bytes(server.public_bytes(PEM))
    files.server_key.write_bytes(server_key.private_bytes(PEM, PKCS8, serialization.NoEncryption()))
    files.client_cert.write_bytes(client.public_bytes(PEM))
    encrypted = serialization.BestAvailableEncryption(client_key_password.encode())
    files.client_key.write_bytes(client_key.private_bytes(PEM, PKCS8, encrypted))
    for secret in (files.server_key, files.client_key):
        secret.chmod(0o600)
    return files
