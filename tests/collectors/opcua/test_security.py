"""Basic256Sha256 Sign / SignAndEncrypt with a client certificate and a user, and the ways it goes wrong."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pytest

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.plant import SecurityMode, load_plant, opcua_password
from shopfloor.simulators.fleet.certs import generate_certificate
from shopfloor.simulators.fleet.security import FleetSecurity
from tests.collectors.opcua.conftest import RecordingSink, all_keys, at_endpoint, fleet_variant, running, wait_until
from tests.collectors.opcua.fleet_server import FleetServer

PASSWORD = "s3cret-Pa55word-never-logged"
PASSWORD_ENV = "SHOPFLOOR_TEST_OPCUA_PASSWORD"
CLIENT_URI = "urn:shopfloor:test:collector"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trusted client certificate, an untrusted one, and the server's own (generated once per module)."""
    base = tmp_path_factory.mktemp("certs")
    out = {}
    for name in ("client", "stranger", "server"):
        generate_certificate(
            base / f"{name}_cert.der",
            base / f"{name}_key.pem",
            f"test {name}",
            CLIENT_URI if name != "server" else "urn:shopfloor:test:server",
        )
        out[f"{name}_cert"] = base / f"{name}_cert.der"
        out[f"{name}_key"] = base / f"{name}_key.pem"
    return out


@pytest.fixture
async def secure_server(tmp_path: Path, certs: dict[str, Path]):
    security = FleetSecurity(
        modes=(SecurityMode.SIGN, SecurityMode.SIGN_AND_ENCRYPT),
        users={"operator": PASSWORD},
        allow_anonymous=False,
        trusted_client_certificates=(certs["client_cert"],),
        server_certificate=certs["server_cert"],
        server_private_key=certs["server_key"],
        application_uri="urn:shopfloor:test:server",
    )
    server = FleetServer(fleet_variant(2), tmp_path, security)
    await server.start()
    yield server
    await server.stop()


def secure_collector(
    server: FleetServer,
    sink: RecordingSink,
    certs: dict[str, Path],
    *,
    mode: str,
    env: Mapping[str, str],
    client: str = "client",
    pin: bool = True,
) -> OpcUaFleetCollector:
    """A collector as ``shopfloor collect`` builds one: the password read from ``env`` when it starts."""
    fleet = at_endpoint(
        server.fleet,
        server.url,
        security_policy="Basic256Sha256",
        security_mode=mode,
        client_certificate=certs[f"{client}_cert"],
        client_private_key=certs[f"{client}_key"],
        server_certificate=certs["server_cert"] if pin else None,
        username="operator",
        password_env=PASSWORD_ENV,
    )
    return OpcUaFleetCollector(
        fleet, sink, reconnect_initial_s=0.1, reconnect_max_s=0.5, password=opcua_password(fleet.opcua, env)
    )


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_secure_session_delivers(
    secure_server: FleetServer,
    sink: RecordingSink,
    certs: dict[str, Path],
    mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    collector = secure_collector(
        secure_server, sink, certs, mode=mode, env={PASSWORD_ENV: PASSWORD}, pin=(mode == "Sign")
    )
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(collector.fleet), f"values over {mode}")
    assert [e.connected for e in sink.events] == [True]
    assert PASSWORD not in caplog.text


async def test_wrong_password_is_a_clear_error_and_keeps_retrying(
    secure_server: FleetServer,
    sink: RecordingSink,
    certs: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-password-either"
    caplog.set_level(logging.DEBUG)
    collector = secure_collector(secure_server, sink, certs, mode="SignAndEncrypt", env={PASSWORD_ENV: wrong})
    async with running(collector) as task:
        await wait_until(lambda: collector.stats.attempts >= 3, "three attempts")
        assert not task.done()  # no crash
        assert [e.connected for e in sink.events] == [False]
        detail = sink.events[0].detail
        assert "rejected user 'operator'" in detail and PASSWORD_ENV in detail
    # The password is read when the process starts: fixing it means a restart with the right secret.
    restarted = secure_collector(secure_server, sink, certs, mode="SignAndEncrypt", env={PASSWORD_ENV: PASSWORD})
    async with running(restarted):
        await wait_until(lambda: sink.good_keys() == all_keys(restarted.fleet), "values with the right password")
    assert [e.connected for e in sink.events] == [False, True]
    assert sink.batches[0] is not None and not any(len(b) == 0 for b in sink.batches)
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    ours = [r for r in caplog.records if r.name == "shopfloor.collectors.opcua" and "operator" in r.getMessage()]
    assert len(ours) == 1, "one log line for the state change, not one per attempt"


async def test_the_collect_command_reads_the_password_from_its_environment(
    secure_server: FleetServer, sink: RecordingSink, certs: dict[str, Path]
) -> None:
    from shopfloor.cli.collect import build_collectors

    fleet = secure_collector(secure_server, sink, certs, mode="Sign", env={}).fleet
    plant = load_plant().model_copy(update={"printers": [], "fleets": [fleet]})
    (collector,) = build_collectors(plant, sink, env={PASSWORD_ENV: PASSWORD})
    assert isinstance(collector, OpcUaFleetCollector)
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "values with the password from the environment")


async def test_untrusted_client_certificate_is_a_clear_error(
    secure_server: FleetServer, sink: RecordingSink, certs: dict[str, Path]
) -> None:
    collector = secure_collector(
        secure_server, sink, certs, mode="Sign", env={PASSWORD_ENV: PASSWORD}, client="stranger"
    )
    async with running(collector) as task:
        await wait_until(lambda: collector.stats.attempts >= 2, "two attempts")
        assert not task.done()
    assert [e.connected for e in sink.events] == [False]
    assert "certificate" in sink.events[0].detail
    assert str(certs["stranger_cert"]) in sink.events[0].detail
    assert sink.batches == []


async def test_missing_password_variable_is_named(
    secure_server: FleetServer, sink: RecordingSink, certs: dict[str, Path]
) -> None:
    collector = secure_collector(secure_server, sink, certs, mode="Sign", env={})
    async with running(collector):
        await wait_until(lambda: bool(sink.events), "the failure to be recorded")
    assert not sink.events[0].connected and f"{PASSWORD_ENV}" in sink.events[0].detail


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_a_changed_server_certificate_is_a_clear_error(
    secure_server: FleetServer, sink: RecordingSink, certs: dict[str, Path], mode: str
) -> None:
    # The plant file pins one certificate; the server presents another (replaced, or not the fleet's server).
    pinned = certs["stranger_cert"]
    env = {PASSWORD_ENV: PASSWORD}
    fleet = at_endpoint(
        secure_collector(secure_server, sink, certs, mode=mode, env=env).fleet,
        secure_server.url,
        server_certificate=pinned,
    )
    collector = OpcUaFleetCollector(
        fleet, sink, reconnect_initial_s=0.1, reconnect_max_s=0.5, password=opcua_password(fleet.opcua, env)
    )
    async with running(collector) as task:
        await wait_until(lambda: collector.stats.attempts >= 2, "two attempts")
        assert not task.done()  # no crash: retried like any other failure
    assert [e.connected for e in sink.events] == [False]
    detail = sink.events[0].detail
    assert "differs from the pinned server_certificate" in detail and str(pinned) in detail
    assert "CN=test server" in detail  # names the certificate the server presented
    assert "did not answer" not in detail  # not mistaken for a timeout
    # No session, no values from that server.
    assert collector.stats.connects == 0 and sink.batches == [] and not collector.ready.is_set()
