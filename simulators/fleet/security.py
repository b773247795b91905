"""Security of the simulated fleet server: endpoints, users, trusted clients.

``FleetSecurity`` is what a test or the plant file asks for; ``apply_security``
turns it into asyncua settings on a ``Server`` that has not started yet.
Anything wrong in the request is a ``ValueError`` before any socket opens.
"""

from __future__ import annotations

import hmac
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.user_managers import UserManager

from shopfloor.models.plant import OpcUaEndpoint, SecurityMode, SecurityPolicy
from shopfloor.simulators.fleet.certs import generate_certificate

if TYPE_CHECKING:
    from asyncua.server.internal_server import InternalServer

DEFAULT_APPLICATION_URI = "urn:shopfloor:simulator:ev-charging-robots"

_POLICY_TYPES = {
    SecurityMode.NONE: ua.SecurityPolicyType.NoSecurity,
    SecurityMode.SIGN: ua.SecurityPolicyType.Basic256Sha256_Sign,
    SecurityMode.SIGN_AND_ENCRYPT: ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


@dataclass(frozen=True)
class FleetSecurity:
    """What the server offers and whom it lets in.

    ``modes``: the endpoints, ``None`` (no security) and/or Basic256Sha256
    ``Sign`` / ``SignAndEncrypt``. ``users``: user name → password.
    ``trusted_client_certificates``: ``None`` accepts any well-formed client
    certificate; a tuple (possibly empty) accepts only those certificates.
    """

    modes: tuple[SecurityMode, ...] = (SecurityMode.NONE,)
    users: Mapping[str, str] = field(default_factory=dict)
    allow_anonymous: bool = True
    trusted_client_certificates: tuple[Path, ...] | None = None
    certificate_dir: Path | None = None  # where the server's certificate is generated (a temp dir if None)
    server_certificate: Path | None = None  # use this certificate and key instead of generating them
    server_private_key: Path | None = None
    application_uri: str = DEFAULT_APPLICATION_URI

    def __post_init__(self) -> None:
        if not self.modes:
            raise ValueError("security: offer at least one endpoint mode")
        for mode in self.modes:
            if not isinstance(mode, SecurityMode):
                raise ValueError(f"security: unknown mode {mode!r}; use models.plant.SecurityMode")
        if not self.allow_anonymous and not self.users:
            raise ValueError("security: anonymous access is off and no users are configured: nobody could log in")
        if (self.server_certificate is None) != (self.server_private_key is None):
            raise ValueError("security: server_certificate and server_private_key go together")
        for path in (self.server_certificate, self.server_private_key, *(self.trusted_client_certificates or ())):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"security: file not found: {path}")

    @property
    def needs_certificate(self) -> bool:
        return any(mode is not SecurityMode.NONE for mode in self.modes)

    @classmethod
    def from_endpoint(cls, opcua: OpcUaEndpoint, password: str | None) -> FleetSecurity:
        """What the plant file's fleet endpoint asks collectors to use, offered by the simulator.

        ``password`` is the user's, read from ``password_env`` where the process
        starts, as for the collector (None: that variable is not set).
        The collector's certificate, when the plant names one, is the one trusted.
        """
        users: dict[str, str] = {}
        if opcua.username is not None:
            if password is None:
                raise ValueError(
                    f"the plant's fleet endpoint names user {opcua.username!r}: set the environment variable"
                    f" {opcua.password_env!r} to its password"
                )
            users[opcua.username] = password
        mode = opcua.security_mode if opcua.security_policy is not SecurityPolicy.NONE else SecurityMode.NONE
        trusted = (opcua.client_certificate,) if opcua.client_certificate is not None else None
        return cls(modes=(mode,), users=users, allow_anonymous=not users, trusted_client_certificates=trusted)


class FleetUserManager(UserManager):
    """Accepts the configured users (and anonymous clients only when allowed)."""

    def __init__(self, users: Mapping[str, str], allow_anonymous: bool) -> None:
        self._users = dict(users)
        self._allow_anonymous = allow_anonymous

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:
            return User(role=UserRole.User) if self._allow_anonymous else None
        expected = self._users.get(username)
        if expected is None or password is None:
            return None
        # Constant-time comparison: the simulator stands in for a real device.
        if not hmac.compare_digest(expected.encode(), password.encode()):
            return None
        return User(role=UserRole.User, name=username)


@dataclass(frozen=True)
class ServerCertificate:
    certificate: Path
    private_key: Path


def ensure_server_certificate(security: FleetSecurity, directory: Path) -> ServerCertificate:
    """The configured certificate, or one generated once into ``security.certificate_dir`` or ``directory``."""
    if security.server_certificate is not None and security.server_private_key is not None:
        return ServerCertificate(security.server_certificate, security.server_private_key)
    base = security.certificate_dir or directory
    cert, key = base / "server_cert.der", base / "server_key.pem"
    if not (cert.is_file() and key.is_file()):
        generate_certificate(
            cert,
            key,
            "Shopfloor EV-charging robot fleet simulator",
            security.application_uri,
            ["localhost", "127.0.0.1", socket.gethostname()],
        )
    return ServerCertificate(cert, key)


async def apply_security(
    server: Server, security: FleetSecurity, certificate: ServerCertificate | None, trust_dir: Path
) -> None:
    """Configure a not-yet-started asyncua server (after ``init()``)."""
    server.set_security_policy([_POLICY_TYPES[mode] for mode in security.modes])
    tokens: list[type] = [ua.UserNameIdentityToken]
    if security.allow_anonymous:
        tokens.append(ua.AnonymousIdentityToken)
    server.set_identity_tokens(tokens)
    manager = FleetUserManager(security.users, security.allow_anonymous)
    server.iserver.set_user_manager(manager)
    if certificate is not None:
        await server.load_certificate(certificate.certificate)
        await server.load_private_key(certificate.private_key)
    if security.trusted_client_certificates is not None:
        # asyncua's TrustStore reads every *.der / *.pem in a directory: give it one of its own.
        shutil.rmtree(trust_dir, ignore_errors=True)
        trust_dir.mkdir(parents=True)  # noqa: ASYNC240  # a few small files, once, before the server starts
        for i, path in enumerate(security.trusted_client_certificates):
            data = Path(path).read_bytes()  # noqa: ASYNC240  # as above
            suffix = ".pem" if data.lstrip().startswith(b"-----BEGIN") else ".der"
            (trust_dir / f"trusted_{i}{suffix}").write_bytes(data)
        store = TrustStore([trust_dir], [])
        await store.load()
        server.set_certificate_validator(
            CertificateValidator(
                CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store
            )
        )
