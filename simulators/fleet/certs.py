"""Self-signed OPC UA application certificates (server or client).

OPC UA (Part 6 §6.2.2) wants the application URI in the certificate's
subjectAltName, and peers compare it with the ApplicationUri the application
announces; host names and IP addresses go there too. The certificate is
built by asyncua's own generator so it carries the key usages asyncua's
``CertificateValidator`` checks.

File format follows the suffix, as asyncua reads it: ``.pem`` → PEM,
anything else (``.der``) → DER; the same for the private key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from asyncua.crypto.cert_gen import generate_private_key, generate_self_signed_app_certificate
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

DEFAULT_VALID_DAYS = 365


def _subject_alt_names(application_uri: str, hostnames: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _encoding(path: Path) -> serialization.Encoding:
    return serialization.Encoding.PEM if path.suffix.lower() == ".pem" else serialization.Encoding.DER


def generate_certificate(
    path_cert: Path | str,
    path_key: Path | str,
    common_name: str,
    application_uri: str,
    hostnames: Iterable[str] = ("localhost", "127.0.0.1"),
    *,
    days: int = DEFAULT_VALID_DAYS,
) -> None:
    """Write a fresh RSA-2048 key and a self-signed certificate usable as client and as server."""
    if not application_uri:
        raise ValueError("application_uri must not be empty: peers match it against the certificate")
    path_cert, path_key = Path(path_cert), Path(path_key)
    key = generate_private_key()
    cert = generate_self_signed_app_certificate(
        key,
        common_name,
        {},
        _subject_alt_names(application_uri, hostnames),
        # Both roles, so one helper serves the simulator and the collector.
        extended=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
        days=days,
    )
    path_cert.parent.mkdir(parents=True, exist_ok=True)
    path_key.parent.mkdir(parents=True, exist_ok=True)
    path_cert.write_bytes(cert.public_bytes(_encoding(path_cert)))
    path_key.write_bytes(
        key.private_bytes(_encoding(path_key), serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path_key.chmod(0o600)  # a private key readable by others is not private


def certificate_application_uris(path_cert: Path | str) -> list[str]:
    """The URIs in a certificate's subjectAltName (to check what an application must announce)."""
    path_cert = Path(path_cert)
    data = path_cert.read_bytes()
    if path_cert.suffix.lower() == ".pem":
        cert = x509.load_pem_x509_certificate(data)
    else:
        cert = x509.load_der_x509_certificate(data)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))
