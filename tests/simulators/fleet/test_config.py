"""Configuration errors are caught before any socket opens; certificates carry what peers check."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from shopfloor.models.plant import SecurityMode
from shopfloor.simulators.fleet.certs import certificate_application_uris, generate_certificate
from shopfloor.simulators.fleet.faults import status_code_from_name
from shopfloor.simulators.fleet.security import FleetSecurity
from shopfloor.simulators.fleet.server import FleetSimulator
from tests.simulators.fleet._helpers import LOOPBACK, make_plant


def test_bad_endpoint_and_time_scale_are_clear_errors() -> None:
    plant = make_plant(robots=1)
    with pytest.raises(ValueError, match=r"opc.tcp"):
        FleetSimulator(plant, endpoint="http://127.0.0.1:80/")
    with pytest.raises(ValueError, match="time_scale"):
        FleetSimulator(plant, endpoint=LOOPBACK, time_scale=0)
    with pytest.raises(ValueError, match="port"):
        FleetSimulator(plant, endpoint=LOOPBACK, port=70000)


def test_security_requests_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nobody could log in"):
        FleetSecurity(allow_anonymous=False)
    with pytest.raises(ValueError, match="go together"):
        FleetSecurity(server_certificate=tmp_path / "c.der")
    with pytest.raises(ValueError, match="not found"):
        FleetSecurity(trusted_client_certificates=(tmp_path / "missing.der",))
    with pytest.raises(ValueError, match="mode"):
        FleetSecurity(modes=("Sign",))  # type: ignore[arg-type]  # a wrong value, on purpose
    assert FleetSecurity(modes=(SecurityMode.SIGN,)).needs_certificate


def test_unknown_or_good_status_names_are_rejected() -> None:
    assert status_code_from_name("BadSensorFailure").name == "BadSensorFailure"
    with pytest.raises(ValueError, match="unknown"):
        status_code_from_name("BadSensorFailur")
    with pytest.raises(ValueError, match="good"):
        status_code_from_name("Good")


@pytest.mark.parametrize("suffix", [".der", ".pem"])
def test_generated_certificate_names_the_application(tmp_path: Path, suffix: str) -> None:
    cert, key = tmp_path / f"c{suffix}", tmp_path / f"k{suffix}"
    generate_certificate(cert, key, "collector", "urn:test:app", ["localhost", "127.0.0.1"])
    assert certificate_application_uris(cert) == ["urn:test:app"]
    data = cert.read_bytes()
    loaded = x509.load_pem_x509_certificate(data) if suffix == ".pem" else x509.load_der_x509_certificate(data)
    san = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert key.stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="application_uri"):
        generate_certificate(cert, key, "x", "")


def test_security_from_the_plant_endpoint(certificates: dict[str, Path]) -> None:
    from shopfloor.models.plant import OpcUaEndpoint, opcua_password

    endpoint = OpcUaEndpoint(
        endpoint="opc.tcp://127.0.0.1:4840/x",
        security_policy="Basic256Sha256",
        security_mode="Sign",
        username="operator",
        password_env="FLEET_TEST_PASSWORD",
        client_certificate=certificates["client_cert"],
        client_private_key=certificates["client_key"],
    )
    with pytest.raises(ValueError, match="FLEET_TEST_PASSWORD"):
        FleetSecurity.from_endpoint(endpoint, opcua_password(endpoint, {}))
    security = FleetSecurity.from_endpoint(endpoint, opcua_password(endpoint, {"FLEET_TEST_PASSWORD": "pw"}))
    assert security.modes == (SecurityMode.SIGN,)
    assert security.users == {"operator": "pw"} and not security.allow_anonymous
    assert security.trusted_client_certificates == (certificates["client_cert"],)
    assert FleetSecurity.from_endpoint(OpcUaEndpoint(endpoint="opc.tcp://h:1"), None).modes == (SecurityMode.NONE,)


async def test_the_simulate_command_reads_the_fleet_password_from_its_environment() -> None:
    from shopfloor.cli.simulate import start_simulators, stop_simulators

    plant = make_plant(robots=1)
    fleet = plant.fleets[0]
    opcua = fleet.opcua.model_copy(update={"username": "operator", "password_env": "FLEET_TEST_PASSWORD"})
    secured = plant.model_copy(update={"fleets": [fleet.model_copy(update={"opcua": opcua})]})
    with pytest.raises(ValueError, match="FLEET_TEST_PASSWORD"):
        await start_simulators(secured, {"fleet"}, time_scale=None, seed=1, loopback_free_ports=True, env={})
    started = await start_simulators(
        secured, {"fleet"}, time_scale=None, seed=1, loopback_free_ports=True, env={"FLEET_TEST_PASSWORD": "pw"}
    )
    try:
        (sim,) = started
        assert isinstance(sim, FleetSimulator) and sim.security.users == {"operator": "pw"}
    finally:
        await stop_simulators(started)
