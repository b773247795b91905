"""The control API in-process: real simulators, the real uvicorn server on a loopback socket, the real CLI client.

The end-to-end path (``shopfloor simulate`` and ``shopfloor inject`` as
processes) is in tests/cli/test_sim_control.py; here the faults that need a
closer look (garbage values, NaN, raw words, emergency stop, dropped
connections, a restart) and the API's refusals are checked against clients
of the simulators in the same test.
"""

from __future__ import annotations

import asyncio
import math
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asyncua import Client
from pymodbus.client import AsyncModbusTcpClient

from shopfloor.cli.main import main as shopfloor
from shopfloor.cli.simulate import _listen_loopback, serve_control
from shopfloor.models.plant import load_plant
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.control import create_control_app
from shopfloor.simulators.fleet.server import FleetSimulator
from shopfloor.simulators.printer.server import PrinterSimulator
from tests.simulators.fleet._helpers import LOOPBACK, SIM_START_NS
from tests.simulators.printer._wire import read_signal, read_words


@dataclass
class Running:
    printer: PrinterSimulator
    fleet: FleetSimulator
    url: str
    key_file: Path

    async def inject(self, *args: str) -> int:
        """``shopfloor inject ARGS`` in a thread: its blocking HTTP call must not stop this loop serving it."""
        argv = ["inject", *args, "--control", self.url, "--key-file", str(self.key_file)]
        return await asyncio.to_thread(shopfloor, argv)


@pytest.fixture
async def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.delenv("SHOPFLOOR_CONTROL_KEY", raising=False)
    plant = load_plant(None)
    clock = ManualClock(start_ns=SIM_START_NS)
    printer = PrinterSimulator(plant, host="127.0.0.1", port=0, seed=1, clock=clock)
    fleet = FleetSimulator(plant, endpoint=LOOPBACK, port=0, seed=1, clock=clock)
    await printer.start()
    await fleet.start()
    sock = _listen_loopback(0)
    key_file = tmp_path / "keys" / "control.key"
    try:
        async with serve_control([printer, fleet], sock, key_file) as control:
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            yield Running(printer, fleet, control.url, key_file)
        assert not key_file.exists()  # removed when the channel closes
    finally:
        sock.close()
        await fleet.stop()
        await printer.stop()


async def test_garbage_values_and_emergency_stop_reach_the_clients(running: Running) -> None:
    printer = running.printer.printer
    modbus = AsyncModbusTcpClient("127.0.0.1", port=running.printer.port, timeout=5, retries=0)
    assert await modbus.connect()
    try:
        assert await running.inject("printer", "value", "speed_m_min", "--words", "0x7FC0,0") == 0
        assert await read_words(modbus, printer.signal("speed_m_min")) == [0x7FC0, 0]  # a NaN float32
        assert await running.inject("printer", "value", "dryer_1_temp_c", "999.5") == 0
        assert await read_signal(modbus, printer.signal("dryer_1_temp_c")) == pytest.approx(999.5)
        assert await running.inject("printer", "estop", "on") == 0
        assert await read_signal(modbus, printer.signal("emergency_stop")) == 1
        assert await running.inject("printer", "clear") == 0
        assert await read_signal(modbus, printer.signal("emergency_stop")) == 0
        assert await read_signal(modbus, printer.signal("dryer_1_temp_c")) != pytest.approx(999.5)
        assert running.printer.connections == 1
        assert await running.inject("printer", "drop") == 0
        deadline = asyncio.get_running_loop().time() + 10
        while running.printer.connections:  # the server closed it; the count follows within a loop turn
            assert asyncio.get_running_loop().time() < deadline, "the connection was not dropped"
            await asyncio.sleep(0.02)
    finally:
        modbus.close()

    fleet = running.fleet
    async with Client(fleet.endpoint, timeout=10) as opcua:
        soc = opcua.get_node(fleet.node_id("r01", "soc_pct"))
        assert await running.inject("fleet", "value", "r01", "StateOfCharge", "nan") == 0
        assert math.isnan(await soc.read_value())
        assert await running.inject("fleet", "value", "r01", "state", "42") == 0
        assert await opcua.get_node(fleet.node_id("r01", "state")).read_value() == 42
        assert await running.inject("fleet", "value", "r01", "state", "-1") == 1  # UInt16: refused
        assert await running.inject("fleet", "clear") == 0
        assert await soc.read_value() == pytest.approx(fleet.process.robot("r01").soc_pct)
    port = fleet.port
    assert await running.inject("fleet", "restart") == 0
    assert fleet.running and fleet.port == port  # a controller reboot: same address, clients reconnect
    async with Client(fleet.endpoint, timeout=10) as opcua:
        assert 0 <= await opcua.get_node(fleet.node_id("r02", "state")).read_value() <= 9


async def test_the_api_refuses_what_it_cannot_do(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    key = running.key_file.read_text().strip()
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
        listed = (await http.get("/v1/targets", headers=auth)).json()["targets"]
        assert {(t["id"], t["kind"], tuple(t["aliases"])) for t in listed} == {
            ("mso-cpp-1", "printer", ("printer",)),
            ("ev-robots", "fleet", ("fleet",)),
        }
        for path, body, status, message in [
            ("printer/faults/stall", {"active": True, "typo": 1}, 400, "typo: Extra inputs are not permitted"),
            ("printer/faults/stall", {}, 400, "active: Field required"),
            ("printer/faults/exception", {"signals": [], "code": 4}, 400, "at least one signal"),
            ("printer/faults/value", {"signal": "state"}, 400, "either an engineering 'value' or raw 'words'"),
            ("printer/faults/value", {"signal": "state", "words": [1, 2]}, 400, "word"),
            (
                "fleet/faults/bad-status",
                {"robot": "r01", "variable": "voltage", "status": "BadSensorFailure"},
                404,
                "no variable 'voltage'",
            ),
            ("fleet/faults/bad-status", {"robot": "r01", "variable": "soc_pct", "status": "Good"}, 400, "good status"),
        ]:
            reply = await http.post(f"/v1/targets/{path}", json=body, headers=auth)
            assert (reply.status_code, message in reply.json()["detail"]) == (status, True), (path, reply.text)
        # a refused request changed nothing
        assert not running.printer._faults.stalled
        assert (await http.get("/v1/targets")).status_code == 401
        assert (await http.get("/v1/targets", headers={"Authorization": f"Bearer {key}x"})).status_code == 403
        assert (await http.get("/openapi.json", headers=auth)).status_code == 404  # nothing to browse
    # The client's own usage errors never reach the server.
    assert await running.inject("printer", "exception", "--signals", "state") == 2
    assert "needs --code" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at least 16"):
        create_control_app([running.printer], "short")


def test_a_short_key_from_the_environment_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_CONTROL_KEY", "short")
    with pytest.raises(SystemExit, match="at least 16 characters"):
        shopfloor(["simulate", "--control-port", "0"])
