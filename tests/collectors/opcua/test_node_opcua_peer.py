"""Against a third-party server (node-opcua): a refused client certificate and a shutdown mid-publish.

Both must read as one log line per change of link state, in the words of
docs/collectors-opcua.md, and never as asyncua's tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.plant import Fleet
from shopfloor.models.timebase import SystemClock
from shopfloor.simulators.fleet.certs import generate_certificate
from tests.collectors.opcua import node_opcua_peer
from tests.collectors.opcua.conftest import RecordingSink, all_keys, fleet_variant, running, wait_until
from tests.collectors.opcua.node_opcua_peer import NodeOpcuaServer, start_or_skip

LOGGER = "shopfloor.collectors.opcua"


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The collector's certificate and key; with this host's name, so asyncua's own check has nothing to say."""
    base = tmp_path_factory.mktemp("collector-cert")
    cert, key = base / "collector_cert.der", base / "collector_key.pem"
    generate_certificate(
        cert,
        key,
        "shopfloor collector",
        "urn:shopfloor:test:collector",
        ("localhost", "127.0.0.1", socket.gethostname()),
    )
    return cert, key


@pytest.fixture
def untrusting_peer(tmp_path: Path) -> Iterator[NodeOpcuaServer]:
    """node-opcua that has never seen the collector's certificate."""
    peer = start_or_skip(tmp_path)
    yield peer
    peer.close()


@pytest.fixture
def trusting_peer(tmp_path: Path, client_cert: tuple[Path, Path]) -> Iterator[NodeOpcuaServer]:
    """node-opcua that trusts the collector's certificate."""
    peer = start_or_skip(tmp_path, trust=client_cert[0])
    yield peer
    peer.close()


def peer_fleet(url: str, client_cert: tuple[Path, Path]) -> Fleet:
    """One robot, r01 (browse name R01, as the peer serves it), over Basic256Sha256 SignAndEncrypt."""
    data = fleet_variant(1).model_dump(mode="python", by_alias=True)
    data["robots"][0]["id"] = "r01"
    data["opcua"].update(
        endpoint=url,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        client_certificate=client_cert[0],
        client_private_key=client_cert[1],
    )
    return Fleet.model_validate(data)


class GatedClock(SystemClock):
    """Real time, but a backoff wait begun while the gate is closed lasts until it opens.

    The test decides when the next connection attempt happens: node-opcua
    checks a certificate, then files it as rejected; an attempt in flight
    while the certificate is being trusted would file it back as rejected.
    """

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()  # set when a backoff wait begins

    async def sleep(self, seconds: float) -> None:
        self.waiting.set()
        await asyncio.gather(super().sleep(seconds), self.gate.wait())

    async def hold(self) -> None:
        """Close the gate and return once the collector waits behind it (no attempt in flight)."""
        self.gate.clear()
        self.waiting.clear()
        await wait_until(self.waiting.is_set, "the collector to wait for its next attempt")


def warnings_and_worse(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text
    assert "NotEnoughData" not in caplog.text and "AssertionError" not in caplog.text


async def test_a_server_that_does_not_trust_our_certificate_is_one_clear_line(
    untrusting_peer: NodeOpcuaServer,
    client_cert: tuple[Path, Path],
    sink: RecordingSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fleet = peer_fleet(untrusting_peer.url, client_cert)
    clock = GatedClock()
    collector = OpcUaFleetCollector(fleet, sink, clock=clock, reconnect_initial_s=0.1, reconnect_max_s=0.5)
    refused = (
        f"{untrusting_peer.url} refused the secure channel (BadSecurityChecksFailed): make the server trust"
        f" client certificate '{client_cert[0]}', and check security_policy/security_mode"
    )
    rejected = untrusting_peer.workdir / "pki" / "server" / "rejected"
    async with running(collector) as task:
        await wait_until(lambda: collector.stats.attempts >= 3, "three refused attempts")
        assert not task.done()
        assert [(e.connected, e.detail) for e in sink.events] == [(False, refused)]
        assert warnings_and_worse(caplog) == [
            (LOGGER, logging.WARNING, f"opcua:{fleet.id}: cannot reach {fleet.id}: {refused}")
        ]
        assert len(list(rejected.iterdir())) == 1  # the server keeps the certificate it refused, for its operator
        # What the message asks for, done on the server: trust the collector's certificate.
        await clock.hold()
        await asyncio.to_thread(untrusting_peer.trust_certificate, client_cert[0])
        assert list(rejected.iterdir()) == []
        clock.gate.set()
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "values once the server trusts the collector")
    assert [e.connected for e in sink.events] == [False, True]
    lines = warnings_and_worse(caplog)
    assert lines[0] == (LOGGER, logging.WARNING, f"opcua:{fleet.id}: cannot reach {fleet.id}: {refused}")
    assert [line[:2] for line in lines[1:]] == [(LOGGER, logging.WARNING)]
    assert lines[1][2].startswith(f"opcua:{fleet.id}: recovered link to {fleet.id} after ")
    assert_no_traceback(caplog)


async def test_a_server_shutting_down_mid_publish_is_one_line(
    trusting_peer: NodeOpcuaServer,
    client_cert: tuple[Path, Path],
    sink: RecordingSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fleet = peer_fleet(trusting_peer.url, client_cert)
    # No reconnect before the test stops the collector: the log then holds what the loss itself caused.
    collector = OpcUaFleetCollector(fleet, sink, reconnect_initial_s=3600, reconnect_max_s=3600)
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "values over the subscription")
        # The publish answered with those values was followed at once by the next one, which the server now holds.
        caplog.clear()
        caplog.set_level(logging.INFO)
        await asyncio.to_thread(trusting_peer.shutdown)
        await wait_until(lambda: [e.connected for e in sink.events] == [True, False], "the loss to be recorded")
    assert sink.events[1].detail == "the server answered Publish with BadSessionClosed"
    assert warnings_and_worse(caplog) == [
        (
            LOGGER,
            logging.WARNING,
            f"opcua:{fleet.id}: lost link to {fleet.id}: the server answered Publish with BadSessionClosed",
        )
    ]
    assert_no_traceback(caplog)
    assert "Publish iteration crashed" not in caplog.text


def test_missing_node_skips_with_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(node_opcua_peer.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        start_or_skip(tmp_path)


def test_missing_install_fails_when_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_opcua_peer, "PEER_DIR", tmp_path / "not-installed")
    monkeypatch.setenv(node_opcua_peer.REQUIRE_ENV, "1")
    if shutil.which("node") is None:
        match = "SHOPFLOOR_REQUIRE_NODE_OPCUA=1 .*node is not installed"
    else:
        match = (
            "SHOPFLOOR_REQUIRE_NODE_OPCUA=1 .*not-installed/node_modules is missing"
            " .*npm ci --prefix tests/peers/node-opcua"
        )
    with pytest.raises(pytest.fail.Exception, match=match):
        start_or_skip(tmp_path)
