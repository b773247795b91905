"""The secure path a collector will take: Basic256Sha256, users, trusted client certificates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from shopfloor.models.plant import SecurityMode
from shopfloor.simulators.fleet.security import FleetSecurity
from shopfloor.simulators.fleet.server import FleetSimulator
from tests.simulators.fleet._helpers import LOOPBACK, FixedClock, make_plant

pytestmark = pytest.mark.asyncio(loop_scope="module")

USER, PASSWORD = "operator", "correct horse battery staple"
MODES = [ua.MessageSecurityMode.Sign, ua.MessageSecurityMode.SignAndEncrypt]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secured(
    certificates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FleetSimulator]:
    security = FleetSecurity(
        modes=(SecurityMode.NONE, SecurityMode.SIGN, SecurityMode.SIGN_AND_ENCRYPT),
        users={USER: PASSWORD},
        allow_anonymous=False,
        trusted_client_certificates=(certificates["client_cert"],),
        certificate_dir=tmp_path_factory.mktemp("fleet-server-pki"),
    )
    async with FleetSimulator(
        make_plant(robots=2), endpoint=LOOPBACK, seed=1, clock=FixedClock(), security=security
    ) as sim:
        yield sim


async def _secure_client(
    sim: FleetSimulator,
    certificates: dict[str, Path],
    mode: ua.MessageSecurityMode,
    *,
    who: str = "client",
    password: str = PASSWORD,
) -> Client:
    client = Client(sim.endpoint, timeout=10)
    client.application_uri = f"urn:test:{'collector' if who == 'client' else who}"  # must match the certificate
    client.set_user(USER)
    client.set_password(password)
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        str(certificates[f"{who}_cert"]),
        str(certificates[f"{who}_key"]),
        server_certificate=str(sim.server_certificate),
        mode=mode,
    )
    return client


async def test_only_configured_endpoints_are_offered(secured: FleetSimulator) -> None:
    client = Client(secured.endpoint, timeout=10)
    endpoints = await client.connect_and_get_server_endpoints()
    offered = {(e.SecurityPolicyUri.rsplit("#", 1)[-1], e.SecurityMode) for e in endpoints}
    assert offered == {
        ("None", ua.MessageSecurityMode.None_),
        ("Basic256Sha256", ua.MessageSecurityMode.Sign),
        ("Basic256Sha256", ua.MessageSecurityMode.SignAndEncrypt),
    }
    token_types = {t.TokenType for e in endpoints for t in e.UserIdentityTokens}
    assert token_types == {ua.UserTokenType.UserName}  # anonymous is off
    assert all(e.EndpointUrl == secured.endpoint for e in endpoints)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
async def test_trusted_client_with_password_reads(
    secured: FleetSimulator, certificates: dict[str, Path], mode: ua.MessageSecurityMode
) -> None:
    client = await _secure_client(secured, certificates, mode)
    async with client:
        value = await client.get_node(secured.node_id("r01", "soc_pct")).read_value()
        assert value == pytest.approx(secured.process.robot("r01").soc_pct)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
async def test_wrong_password_is_denied(
    secured: FleetSimulator, certificates: dict[str, Path], mode: ua.MessageSecurityMode
) -> None:
    client = await _secure_client(secured, certificates, mode, password="wrong")
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        await client.connect()
    await client.disconnect()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
async def test_untrusted_certificate_is_rejected(
    secured: FleetSimulator, certificates: dict[str, Path], mode: ua.MessageSecurityMode
) -> None:
    client = await _secure_client(secured, certificates, mode, who="rogue")
    with pytest.raises(ua.uaerrors.BadCertificateUntrusted):
        await client.connect()
    await client.disconnect()


async def test_anonymous_is_rejected_when_not_allowed(secured: FleetSimulator) -> None:
    client = Client(secured.endpoint, timeout=10)
    with pytest.raises(ua.uaerrors.BadIdentityTokenRejected):
        await client.connect()
    await client.disconnect()


async def test_password_over_the_open_endpoint_is_accepted_and_checked(secured: FleetSimulator) -> None:
    # The None endpoint still needs the user; asyncua encrypts the password with the server certificate.
    good = Client(secured.endpoint, timeout=10)
    good.set_user(USER)
    good.set_password(PASSWORD)
    async with good:
        assert await good.get_node(secured.node_id("r02", "state")).read_value() >= 0
    bad = Client(secured.endpoint, timeout=10)
    bad.set_user("intruder")
    bad.set_password(PASSWORD)
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        await bad.connect()
    await bad.disconnect()


async def test_restart_keeps_the_pinned_server_certificate(
    secured: FleetSimulator, certificates: dict[str, Path]
) -> None:
    pinned = secured.server_certificate
    assert pinned is not None
    before = pinned.read_bytes()
    await secured.restart()
    assert secured.server_certificate == pinned and pinned.read_bytes() == before
    client = await _secure_client(secured, certificates, ua.MessageSecurityMode.SignAndEncrypt)
    async with client:
        assert await client.get_node(secured.node_id("r01", "state")).read_value() >= 0
