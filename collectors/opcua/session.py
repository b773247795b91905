"""Opening and closing one OPC UA session to a fleet endpoint, with errors a person can act on.

Everything the plant file says about security is applied here: the policy
and mode, the client certificate and key, the pinned server certificate and
the username with its password, which the process read at its start from the
environment variable the plant file names. The password is never logged nor
put into an error message.

Failures raise :class:`ConnectError`, whose ``kind`` tells the collector what
happened (``unreachable``, ``timeout``, ``credentials``, ``certificate``,
``config``, ``server``) and whose message says what to fix.

The collector logs one line per change of link state. asyncua logs its own
view of the same failures (a traceback per failed publish, a complaint when a
dead link is closed); :func:`failures_reported_to` hands those to the
collector instead, for the tasks of one link only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UASocketProtocol
from asyncua.common.utils import Buffer
from asyncua.crypto import security_policies
from asyncua.ua.ua_binary import nodeid_from_binary, struct_from_binary
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from shopfloor.models.plant import OpcUaEndpoint, SecurityMode, SecurityPolicy

log = logging.getLogger("shopfloor.collectors.opcua")

# Idle time after which the server may drop a session we abandoned (stall, crash).
SESSION_TIMEOUT_MS = 60_000

_CREDENTIAL_STATUSES = frozenset(
    {"BadUserAccessDenied", "BadIdentityTokenInvalid", "BadIdentityTokenRejected", "BadUserSignatureInvalid"}
)
_SECURITY_STATUSES = frozenset(
    {"BadSecurityChecksFailed", "BadSecurityPolicyRejected", "BadSecurityModeRejected", "BadNonceInvalid"}
)


class _RedactSessionActivation(logging.Filter):
    """asyncua logs every request it sends at DEBUG, ActivateSession included: with a user token
    that is not encrypted separately (SignAndEncrypt endpoints) that record would hold the password."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if any(isinstance(arg, ua.ActivateSessionRequest) for arg in args):
            record.msg, record.args = "Sending: ActivateSessionRequest (redacted: it may carry a password)", ()
        return True


_REDACTOR = _RedactSessionActivation()
logging.getLogger("asyncua.client.ua_client.UASocketProtocol").addFilter(_REDACTOR)

# ------------------------------------------------------------------ failures the collector reports itself

# Set by the collector around one link; asyncua's tasks started meanwhile (the publish loop) inherit it.
_LINK_FAILED: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "shopfloor_opcua_link_failed", default=None
)
# Attribute marking the status error we raise for a ServiceFault answering OpenSecureChannel.
_REFUSAL_MARK = "shopfloor_refused_secure_channel"

# asyncua's log records (format strings, as asyncua 2.1 writes them) that the collector reports in its own words.
_PUBLISH_CRASHED = "Publish iteration crashed; retrying in 1s"
_SERVICE_FAULT = "ServiceFault (%s, diagnostics: %s) from server received %s"
_ERROR_STATUS = "Got error status from server: %s"
_CLOSING_A_CLOSED_LINK = frozenset(
    {
        "close_session was called but connection is closed",
        "close_session but connection wasn't established",
        "close_secure_channel was called but connection is closed",
    }
)


@contextlib.contextmanager
def failures_reported_to(on_failure: Callable[[str], None]) -> Iterator[None]:
    """asyncua's failures on the link opened inside this block go to ``on_failure(reason)``, not to its log.

    The block must hold the whole link (connect, serve, close): the publish loop
    asyncua starts in it keeps reporting to ``on_failure`` until it is cancelled.
    """
    token = _LINK_FAILED.set(on_failure)
    try:
        yield
    finally:
        _LINK_FAILED.reset(token)


def describe_loss(exc: BaseException | None, during: str) -> str:
    """Why a live link ended, in the same words whichever watcher (publish loop, health probe) saw it first."""
    if isinstance(exc, ua.UaStatusCodeError) and exc.code is not None:
        return f"the server answered {during} with {ua.StatusCode(exc.code).name}"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return f"no answer to {during} within the timeout"
    if exc is None or isinstance(exc, ConnectionError | OSError):
        return "connection closed"
    return f"{during} failed: {type(exc).__name__}: {exc}"


class _ReportedByTheCollector(logging.Filter):
    """Hands asyncua's records of link failures to the collector, which logs one line per state change.

    Without it a server going away mid-publish logs asyncua's "Publish iteration
    crashed" traceback once a second until the link is torn down, plus a
    warning for each step of closing a link that is already closed; a refused
    secure channel logs an error on every reconnect attempt. Only records of
    a collector's own link are taken (asyncua used elsewhere in the process
    logs as usual), and they stay available at DEBUG. The log record is the
    only word asyncua gives of a failed publish; where its logger is silenced
    the loss is still caught by the socket close, the health probe or the
    stall watchdog, only later.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            return True  # asyncua also logs messages as objects (at DEBUG): none of those is ours to take
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg == _ERROR_STATUS and args and getattr(args[0], _REFUSAL_MARK, False):
            # explain() turns it into the ConnectError the collector records.
            log.debug("asyncua: %s", record.getMessage())
            return False
        on_failure = _LINK_FAILED.get()
        if on_failure is None:
            return True
        if record.msg == _PUBLISH_CRASHED:
            # asyncua would retry every second on a link that is gone: the collector opens a new one instead.
            exc = record.exc_info[1] if record.exc_info else None
            log.debug("asyncua's publish loop failed: %r", exc)
            on_failure(describe_loss(exc, "Publish"))
            return False
        if (record.msg == _SERVICE_FAULT and args and args[-1] == " in response to PublishRequest") or (
            record.msg in _CLOSING_A_CLOSED_LINK
        ):
            log.debug("asyncua: %s", record.getMessage())
            return False
        return True


_REPORTED = _ReportedByTheCollector()
for _name in ("UASocketProtocol", "UaClient"):
    logging.getLogger(f"asyncua.client.ua_client.{_name}").addFilter(_REPORTED)
logging.getLogger("asyncua.client.ua_session.UaSession").addFilter(_REPORTED)


def _service_fault_status(body: Buffer) -> ua.StatusCode | None:
    """The status of a ServiceFault message body; None for any other message."""
    fault = ua.FourByteNodeId(ua.ObjectIds.ServiceFault_Encoding_DefaultBinary)  # type: ignore[arg-type]  # asyncua's ua.Int32 marker stands for a plain int
    if nodeid_from_binary(body) != fault:
        return None
    header = struct_from_binary(ua.ResponseHeader, body)
    return header.ServiceResult if not header.ServiceResult.is_good() else None


def _read_refusals_of_the_secure_channel(protocol: UASocketProtocol) -> None:
    """Make ``protocol`` raise the status of a ServiceFault that answers OpenSecureChannel.

    A server that refuses the channel after checking our certificate answers
    with a ServiceFault in place of the OpenSecureChannelResponse (OPC UA
    Part 6, 6.7.4; node-opcua, .NET and others do). asyncua 2.1 parses the
    fault as a response: it logs a NotEnoughData traceback and its
    open_secure_channel ends in a bare AssertionError, so the status (e.g.
    BadSecurityChecksFailed) is lost. Raised from here instead, asyncua's
    own handling fails the pending OpenSecureChannel with that status and
    closes the socket. asyncua offers no hook for this, hence the wrapped
    private method, on this connection's protocol only.
    """
    process = protocol._process_received_message

    def process_checking_refusal(msg: ua.Message | ua.Acknowledge | ua.ErrorMessage | None) -> None:
        # OpenSecureChannel answers are the only messages secured with the asymmetric header.
        if isinstance(msg, ua.Message) and isinstance(msg.SecurityHeader(), ua.AsymmetricAlgorithmHeader):
            status = _service_fault_status(msg.body())
            if status is not None:
                refusal = ua.UaStatusCodeError(status.value)
                setattr(refusal, _REFUSAL_MARK, True)
                raise refusal
        process(msg)

    protocol._process_received_message = process_checking_refusal  # type: ignore[method-assign]  # see the docstring


class _CollectorClient(Client):
    """asyncua's Client, reading a refusal of the secure channel (see _read_refusals_of_the_secure_channel)."""

    async def connect_socket(self) -> None:
        await super().connect_socket()
        if self.uaclient.protocol is not None:
            _read_refusals_of_the_secure_channel(self.uaclient.protocol)


class ConnectError(Exception):
    """A session could not be opened; ``str(error)`` is the message for the operator."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _load_certificate(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    return x509.load_der_x509_certificate(data) if path.suffix == ".der" else x509.load_pem_x509_certificate(data)


def _application_uri(certificate_path: Path) -> str | None:
    """The URI in the certificate's subjectAltName: servers check the client claims the same one."""
    cert = _load_certificate(certificate_path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _check_files(endpoint: OpcUaEndpoint) -> None:
    for key in ("client_certificate", "client_private_key", "server_certificate"):
        path: Path | None = getattr(endpoint, key)
        if path is not None and not path.is_file():
            raise ConnectError("config", f"{key} {str(path)!r} does not exist or is not a file")


async def _configure(client: Client, endpoint: OpcUaEndpoint, password: str | None) -> None:
    """Apply security and identity before connecting."""
    _check_files(endpoint)
    if endpoint.security_policy is not SecurityPolicy.NONE:
        assert endpoint.client_certificate is not None and endpoint.client_private_key is not None
        try:
            uri = _application_uri(endpoint.client_certificate)
        except ValueError as exc:
            raise ConnectError(
                "config",
                f"client_certificate {str(endpoint.client_certificate)!r} is not a PEM or DER certificate: {exc}",
            ) from None
        if uri:
            client.application_uri = uri
        mode = (
            ua.MessageSecurityMode.Sign
            if endpoint.security_mode is SecurityMode.SIGN
            else ua.MessageSecurityMode.SignAndEncrypt
        )
        # Without a pinned certificate asyncua asks the server for its endpoints
        # over an unsecured channel and trusts the certificate it gets (first use).
        await client.set_security(
            security_policies.SecurityPolicyBasic256Sha256,
            certificate=str(endpoint.client_certificate),
            private_key=str(endpoint.client_private_key),
            server_certificate=str(endpoint.server_certificate) if endpoint.server_certificate else None,
            mode=mode,
        )
    if endpoint.username is not None:
        client.set_user(endpoint.username)
        if endpoint.password_env is not None:
            if password is None:
                raise ConnectError(
                    "config",
                    f"environment variable {endpoint.password_env} (password_env of user"
                    f" {endpoint.username!r}) is not set",
                )
            client.set_password(password)


def _first_der_certificate(blob: bytes) -> bytes:
    """The leading certificate of a DER blob that may carry the server's chain after it."""
    if len(blob) < 2 or blob[0] != 0x30:
        return blob
    if blob[1] < 0x80:
        return blob[: 2 + blob[1]]
    n = blob[1] & 0x7F
    return blob[: 2 + n + int.from_bytes(blob[2 : 2 + n], "big")]


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()[:16]


def _offered_certificates(endpoints: list[ua.EndpointDescription], endpoint: OpcUaEndpoint) -> set[bytes]:
    """Certificates the server announces on the endpoints matching our policy and mode."""
    mode = (
        ua.MessageSecurityMode.Sign
        if endpoint.security_mode is SecurityMode.SIGN
        else ua.MessageSecurityMode.SignAndEncrypt
    )
    uri = security_policies.SecurityPolicyBasic256Sha256.URI
    return {
        _first_der_certificate(e.ServerCertificate)
        for e in endpoints
        if e.SecurityPolicyUri == uri and e.SecurityMode == mode and e.ServerCertificate
    }


async def _check_pinned_certificate(endpoint: OpcUaEndpoint) -> None:
    """Compare the pinned server certificate with the one the server announces; ConnectError if they differ.

    With the wrong pinned key the OpenSecureChannel request is encrypted for a
    key the server does not hold: it cannot answer, and the connect would only
    time out. GetEndpoints over an unsecured channel (a discovery service every
    server offers) tells the two cases apart. It is a diagnosis only: if it
    fails, the real connect below reports whatever is wrong.
    """
    if endpoint.server_certificate is None or endpoint.security_policy is SecurityPolicy.NONE:
        return
    pinned = _load_certificate(endpoint.server_certificate).public_bytes(Encoding.DER)
    probe = Client(endpoint.endpoint, timeout=endpoint.timeout_s)
    try:
        endpoints = await asyncio.wait_for(probe.connect_and_get_server_endpoints(), timeout=endpoint.timeout_s)
    except (TimeoutError, OSError, ua.UaError):
        log.debug("could not list the endpoints of %s to check its certificate", endpoint.endpoint, exc_info=True)
        return
    finally:
        probe.disconnect_socket()
    offered = _offered_certificates(endpoints, endpoint)
    if offered and pinned not in offered:
        presented = next(iter(offered))
        try:
            subject = x509.load_der_x509_certificate(presented).subject.rfc4514_string()
        except ValueError:
            subject = "unreadable"
        raise ConnectError(
            "certificate",
            f"{endpoint.endpoint} presents a server certificate (subject {subject!r},"
            f" SHA-256 {_fingerprint(presented)}…) that differs from the pinned server_certificate"
            f" {str(endpoint.server_certificate)!r}"
            f" (SHA-256 {_fingerprint(pinned)}…): not connecting. If the server's certificate was replaced on"
            f" purpose, pin the new one; otherwise this may not be the fleet's server",
        )


def explain(exc: BaseException, endpoint: OpcUaEndpoint) -> ConnectError:
    """Turn whatever connecting raised into a message that says what to check."""
    if isinstance(exc, ConnectError):
        return exc
    url = endpoint.endpoint
    if isinstance(exc, ua.UaStatusCodeError):
        name = ua.StatusCode(exc.code).name
        if name in _CREDENTIAL_STATUSES:
            return ConnectError(
                "credentials",
                f"{url} rejected user {endpoint.username!r} ({name}):"
                f" check the username and the password in {endpoint.password_env}",
            )
        if name.startswith("BadCertificate") or name in _SECURITY_STATUSES:
            return ConnectError(
                "certificate",
                f"{url} refused the secure channel ({name}): make the server trust"
                f" client certificate {str(endpoint.client_certificate)!r}, and check"
                f" security_policy/security_mode",
            )
        return ConnectError("server", f"{url} answered {name} while opening a session")
    if isinstance(exc, ua.UaError) and "mismatch" in str(exc).lower():
        return ConnectError(
            "certificate",
            f"{url} presented a certificate that differs from the pinned"
            f" server_certificate {str(endpoint.server_certificate)!r}",
        )
    if isinstance(exc, ua.UaError) and "No matching endpoints" in str(exc):
        return ConnectError(
            "config", f"{url} offers no endpoint with {endpoint.security_policy.value}/{endpoint.security_mode.value}"
        )
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return ConnectError("timeout", f"{url} did not answer within the timeout")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError("unreachable", f"{url} refused the connection (is the server running?)")
    if isinstance(exc, OSError | ConnectionError):
        # A server that does not trust our certificate often just closes the socket.
        hint = (
            ""
            if endpoint.security_policy is SecurityPolicy.NONE
            else " (a server that does not trust our client certificate may also close the connection)"
        )
        return ConnectError("unreachable", f"{url} closed or refused the connection: {exc!r}{hint}")
    return ConnectError("server", f"{url}: {type(exc).__name__}: {exc}")


async def open_client(
    endpoint: OpcUaEndpoint,
    on_lost: Callable[[Exception], Coroutine[Any, Any, None]] | None = None,
    *,
    password: str | None = None,
) -> Client:
    """A connected, activated client; raises :class:`ConnectError`.

    asyncua's own reconnect is off: the collector reconnects itself so that it
    can record the gap and rebuild the subscription from the plant model.
    ``on_lost`` is called by asyncua's health probe when the link dies.
    ``password`` is the user's, resolved from ``password_env`` where the process
    started (None: that variable is not set).
    """
    client = _CollectorClient(
        endpoint.endpoint, timeout=endpoint.timeout_s, watchdog_intervall=endpoint.timeout_s, auto_reconnect=False
    )
    client.session_timeout = SESSION_TIMEOUT_MS
    client.name = client.description = "shopfloor OPC UA collector"
    client.connection_lost_callback = on_lost
    try:
        # One deadline over the whole sequence: a stalled server accepts TCP but
        # never answers the Hello, and set_security may open its own channel.
        await asyncio.wait_for(_configure_and_connect(client, endpoint, password), timeout=4 * endpoint.timeout_s)
    except BaseException as exc:
        # asyncua already closed the socket of a failed connect; only a cancelled one can be left open.
        # (It keeps the protocol of a socket the server closed: closing that again would only log warnings.)
        protocol = client.uaclient.protocol
        if protocol is not None and not protocol.is_closed:
            await close_client(client, graceful=False, timeout_s=endpoint.timeout_s)
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise explain(exc, endpoint) from None
    return client


async def _configure_and_connect(client: Client, endpoint: OpcUaEndpoint, password: str | None) -> None:
    await _configure(client, endpoint, password)
    await _check_pinned_certificate(endpoint)
    await client.connect()


async def close_client(client: Client, *, graceful: bool, timeout_s: float) -> None:
    """Close a session; never raises and never waits longer than ``timeout_s``.

    ``graceful`` sends CloseSession (so the server frees our subscription at
    once). After a loss it is skipped: a stalled server would only make us wait.
    """
    uaclient = client.uaclient
    uaclient.request_disconnect()
    # asyncua's publish loop would log the closing socket as a crash; it has no public handle.
    publish = uaclient._publish_task
    if publish is not None and not publish.done():
        publish.cancel()
    if not graceful:
        uaclient.disconnect_socket()
    try:
        await asyncio.wait_for(client.disconnect(), timeout=timeout_s)
    except (TimeoutError, Exception):  # teardown of a broken link
        log.debug("closing the session to %s did not finish cleanly", client.server_url.geturl(), exc_info=True)
        uaclient.disconnect_socket()
