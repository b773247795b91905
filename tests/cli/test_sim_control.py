"""``shopfloor simulate`` as a process: fault injection on command, one simulator alone, --seed, --time-scale.

Everything goes over real sockets: the simulators run in their own process
(``python -m shopfloor.cli.main simulate``), faults are injected with the real client
command (``python -m shopfloor.cli.main inject``) over the control API, and their effect
is observed with independent clients (pymodbus, asyncua) on the endpoints the
plant file names.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from shopfloor.models.plant import Fleet, Plant, load_plant
from shopfloor.models.registers import decode
from tests.cli._process import REPO, Command
from tests.cli.test_simulate_collect import plant_file_on_free_ports

CONTROL_LINE = r"^control (http://127\.0\.0\.1:\d+/) key (?:file (\S+)|from \$SHOPFLOOR_CONTROL_KEY)$"


async def inject(
    *args: str, control: str, key_file: Path | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``shopfloor inject ARGS`` as its own process (in a thread: the test's clients keep their event loop)."""
    command = [sys.executable, "-m", "shopfloor.cli.main", "inject", *args, "--control", control]
    if key_file is not None:
        command += ["--key-file", str(key_file)]
    # An empty $SHOPFLOOR_CONTROL_KEY counts as unset: only the key file (or the test's env) gives the key.
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "SHOPFLOOR_CONTROL_KEY": "", **(env or {})}
    return await asyncio.to_thread(subprocess.run, command, env=full_env, capture_output=True, text=True, timeout=60)


def opcua_node_id(fleet: Fleet, robot_id: str, variable: str, namespace_index: int) -> str:
    robot = next(r for r in fleet.robots if r.id == robot_id)
    _uri, identifier = fleet.node_id(robot, fleet.variable(variable))
    return f"ns={namespace_index};{identifier}"


async def read_printer_signal(plant: Plant, name: str, client: AsyncModbusTcpClient):  # type: ignore[no-untyped-def]  # pymodbus's read result
    """The raw pymodbus response for one signal (an exception response is not raised: it is looked at)."""
    printer = plant.printers[0]
    signal = printer.signal(name)
    reader = {
        "holding": client.read_holding_registers,
        "input": client.read_input_registers,
        "coil": client.read_coils,
        "discrete_input": client.read_discrete_inputs,
    }[signal.table.value]
    return await reader(signal.address, count=signal.count, device_id=printer.modbus.unit_id)


def decoded(plant: Plant, name: str, response) -> float:  # type: ignore[no-untyped-def]  # pymodbus's read result
    signal = plant.printers[0].signal(name)
    assert not response.isError(), f"{name}: {response}"
    return decode(
        list(response.registers),
        signal.type,
        scale=signal.scale,
        offset=signal.offset,
        word_order=signal.word_order,
        byte_order=signal.byte_order,
    )


async def modbus_client(plant: Plant, timeout_s: float = 5.0) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=plant.printers[0].modbus.port, timeout=timeout_s, retries=0)
    assert await client.connect(), "cannot connect to the printer simulator"
    return client


def refuses_connections(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port (the simulator that was not asked for is not served)."""
    with socket.socket() as s:
        s.settimeout(5)
        return s.connect_ex(("127.0.0.1", port)) != 0


# ---------------------------------------------------------------------- fault injection on command


# About fifteen CLI processes one after another (each `shopfloor inject` imports the whole CLI: ~1.5 s of CPU),
# 35 s without other load and 95-120 s beside two CPU hogs: the suite's 180 s would be a budget, not a hang guard.
@pytest.mark.timeout(600)
async def test_faults_injected_on_command_reach_real_clients(tmp_path: Path) -> None:
    plant_file = plant_file_on_free_ports(tmp_path)
    plant = load_plant(plant_file)
    fleet = plant.fleets[0]
    simulate = Command(
        "simulate", "--plant", str(plant_file), "--control-port", "0", cwd=tmp_path, env={"SHOPFLOOR_CONTROL_KEY": ""}
    )
    try:
        match = simulate.wait_for_line(CONTROL_LINE)
        control, key_file = match.group(1), Path(match.group(2))
        simulate.wait_for_line(r"press Ctrl-C to stop")
        # The key is owner-only, and only its path was printed.
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        key = key_file.read_text(encoding="utf-8").strip()
        assert len(key) >= 16

        # --- Modbus exception on one signal: that read gets the code, others are answered.
        done = await inject(
            "printer", "exception", "--signals", "water_l_total", "--code", "4", control=control, key_file=key_file
        )
        assert done.returncode == 0, done.stderr
        client = await modbus_client(plant)
        try:
            reply = await read_printer_signal(plant, "water_l_total", client)
            assert reply.isError() and reply.exception_code == 4
            assert 0 <= decoded(plant, "state", await read_printer_signal(plant, "state", client)) <= 8
        finally:
            client.close()

        # --- stall: the request is received and never answered, the client times out.
        done = await inject("printer", "stall", "on", control=control, key_file=key_file)
        assert done.returncode == 0, done.stderr
        client = await modbus_client(plant, timeout_s=1.0)
        try:
            started = time.monotonic()
            with pytest.raises(ModbusIOException):
                await read_printer_signal(plant, "state", client)
            assert time.monotonic() - started >= 0.9  # it waited for an answer that never came
        finally:
            client.close()

        # --- clear: answers come back, the exception is gone too.
        done = await inject("printer", "clear", control=control, key_file=key_file)
        assert done.returncode == 0, done.stderr
        client = await modbus_client(plant)
        try:
            assert decoded(plant, "water_l_total", await read_printer_signal(plant, "water_l_total", client)) >= 0
        finally:
            client.close()

        # --- OPC UA bad status on one robot variable, then recovery.
        async with Client(fleet.opcua.endpoint, timeout=10) as opcua:
            ns = await opcua.get_namespace_index(fleet.opcua.namespace_uri)
            soc = opcua.get_node(opcua_node_id(fleet, "r03", "soc_pct", ns))
            other = opcua.get_node(opcua_node_id(fleet, "r04", "soc_pct", ns))
            assert (await soc.read_data_value()).StatusCode.is_good()
            done = await inject(
                "fleet", "bad-status", "r03", "StateOfCharge", "BadSensorFailure", control=control, key_file=key_file
            )
            assert done.returncode == 0, done.stderr
            value = await soc.read_data_value(raise_on_bad_status=False)
            assert value.StatusCode.value == ua.StatusCodes.BadSensorFailure and value.Value.Value is None
            assert (await other.read_data_value()).StatusCode.is_good()  # only that variable

            done = await inject("fleet", "clear", control=control, key_file=key_file)
            assert done.returncode == 0, done.stderr
            value = await soc.read_data_value()
            assert value.StatusCode.is_good() and 0.0 <= value.Value.Value <= 100.0

            # --- a wrong key is refused, and nothing is injected.
            wrong = tmp_path / "wrong.key"
            wrong.write_text("not-the-key-of-this-run\n", encoding="utf-8")
            refused = await inject(
                "fleet", "bad-status", "r03", "StateOfCharge", "BadSensorFailure", control=control, key_file=wrong
            )
            assert refused.returncode != 0 and "wrong control key" in refused.stderr, refused.stderr
            assert (await soc.read_data_value()).StatusCode.is_good()

        # Without any key the API says nothing, not even which targets exist.
        async with httpx.AsyncClient(base_url=control, timeout=10) as http:
            anonymous = await http.post("/v1/targets/printer/faults/stall", json={"active": True})
            assert anonymous.status_code == 401 and "mso-cpp-1" not in anonymous.text
            listed = await http.get("/v1/targets", headers={"Authorization": f"Bearer {key}"})
            assert listed.status_code == 200
            assert {t["id"] for t in listed.json()["targets"]} == {plant.printers[0].id, fleet.id}

        # Unknown names: a 4xx message, printed, non-zero exit.
        for args, message in [
            (("robots", "clear"), "no simulator 'robots' is running"),
            (("printer", "explode"), "has no fault 'explode'"),
            (("printer", "exception", "--signals", "nope", "--code", "4"), "has no signal 'nope'"),
            (("printer", "exception", "--code", "9"), "not one of"),
            (("fleet", "bad-status", "r99", "soc_pct", "BadSensorFailure"), "has no robot 'r99'"),
            (("fleet", "bad-status", "r01", "soc_pct", "BadNoSuchThing"), "unknown OPC UA status code"),
        ]:
            failed = await inject(*args, control=control, key_file=key_file)
            assert failed.returncode != 0 and message in failed.stderr, (args, failed.stderr)
        client = await modbus_client(plant)
        try:  # none of the refused requests changed anything
            assert not (await read_printer_signal(plant, "water_l_total", client)).isError()
        finally:
            client.close()

        assert simulate.interrupt() == 0, simulate.describe()
        output = "\n".join(simulate.stdout_lines + simulate.stderr_lines)
        assert key not in output  # neither printed nor logged
        assert not key_file.exists()  # a generated key lives as long as its run
    finally:
        simulate.kill()


async def test_key_from_the_environment_and_only_the_printer(tmp_path: Path) -> None:
    """``simulate printer`` serves the line alone; a key from $SHOPFLOOR_CONTROL_KEY is used and not written."""
    plant_file = plant_file_on_free_ports(tmp_path)
    plant = load_plant(plant_file)
    key = "an-environment-key-for-this-test"
    simulate = Command(
        "simulate",
        "printer",
        "--plant",
        str(plant_file),
        "--control-port",
        "0",
        cwd=tmp_path,
        env={"SHOPFLOOR_CONTROL_KEY": key},
    )
    try:
        match = simulate.wait_for_line(CONTROL_LINE)
        control = match.group(1)
        assert match.group(2) is None  # no file: the key is the environment's
        simulate.wait_for_line(r"press Ctrl-C to stop")
        assert [line for line in simulate.stdout_lines if line.startswith("serving")] == [
            f"serving modbus-tcp://127.0.0.1:{plant.printers[0].modbus.port} unit {plant.printers[0].modbus.unit_id}"
        ]
        opcua_port = int(plant.fleets[0].opcua.endpoint.rsplit(":", 1)[1].split("/")[0])
        assert refuses_connections(opcua_port), "the fleet was not asked for"

        # Default time scale (the plant file's 1.0): energy grows at most at the line's full power.
        client = await modbus_client(plant)
        try:
            t0, e0 = (
                time.monotonic(),
                decoded(plant, "energy_kwh_total", await read_printer_signal(plant, "energy_kwh_total", client)),
            )
            failed = await inject("fleet", "clear", control=control, key_file=None, env={"SHOPFLOOR_CONTROL_KEY": key})
            assert failed.returncode != 0 and "no simulator 'fleet' is running" in failed.stderr, failed.stderr
            done = await inject(
                "printer",
                "exception",
                "--code",
                "2",
                control=control,
                key_file=None,
                env={"SHOPFLOOR_CONTROL_KEY": key},
            )
            assert done.returncode == 0, done.stderr
            reply = await read_printer_signal(plant, "state", client)
            assert reply.isError() and reply.exception_code == 2
            done = await inject("printer", "clear", control=control, key_file=None, env={"SHOPFLOOR_CONTROL_KEY": key})
            assert done.returncode == 0, done.stderr
            e1 = decoded(plant, "energy_kwh_total", await read_printer_signal(plant, "energy_kwh_total", client))
            elapsed = time.monotonic() - t0
        finally:
            client.close()
        params = plant.simulation.printer
        full_power_kw = params.idle_power_kw + params.power_kw_per_m_min * 2 * params.setpoint_m_min  # 2x: margin
        assert 0 <= e1 - e0 <= full_power_kw * (elapsed + 2) / 3600  # + 2 s: steps already due at the first read
        assert simulate.interrupt() == 0, simulate.describe()
        assert key not in "\n".join(simulate.stdout_lines + simulate.stderr_lines)
    finally:
        simulate.kill()


# ---------------------------------------------------------------------- one simulator alone, seed, time scale


async def test_simulate_fleet_alone(tmp_path: Path) -> None:
    plant_file = plant_file_on_free_ports(tmp_path)
    plant = load_plant(plant_file)
    fleet = plant.fleets[0]
    simulate = Command("simulate", "fleet", "--plant", str(plant_file), cwd=tmp_path)
    try:
        simulate.wait_for_line(r"press Ctrl-C to stop")
        assert [line for line in simulate.stdout_lines if line.startswith("serving")] == [
            f"serving {fleet.opcua.endpoint}"
        ]
        assert not any(line.startswith("control") for line in simulate.stdout_lines)  # only on --control-port
        assert refuses_connections(plant.printers[0].modbus.port), "the printer was not asked for"
        async with Client(fleet.opcua.endpoint, timeout=10) as opcua:
            ns = await opcua.get_namespace_index(fleet.opcua.namespace_uri)
            for robot in fleet.robots:
                state = await opcua.get_node(opcua_node_id(fleet, robot.id, "state", ns)).read_value()
                assert 0 <= state <= 9
        assert simulate.interrupt() == 0, simulate.describe()
    finally:
        simulate.kill()


async def first_fleet_values(folder: Path, seed: int) -> list[tuple[str, float, float]]:
    """State of charge and position of every robot, as first served by ``simulate fleet --seed``.

    At a tenth of real time nothing moves for the first 100 wall seconds (a
    dispatched robot undocks for 10 simulated seconds), so these are the
    robots' initial values, drawn from the seed alone, whenever the run started.
    """
    folder.mkdir()
    plant_file = plant_file_on_free_ports(folder)
    fleet = load_plant(plant_file).fleets[0]
    simulate = Command(
        "simulate", "fleet", "--plant", str(plant_file), "--seed", str(seed), "--time-scale", "0.1", cwd=folder
    )
    try:
        # In a thread: the three runs of the test start side by side on this event loop.
        await asyncio.to_thread(simulate.wait_for_line, r"press Ctrl-C to stop")
        values = []
        async with Client(fleet.opcua.endpoint, timeout=10) as opcua:
            ns = await opcua.get_namespace_index(fleet.opcua.namespace_uri)
            for robot in fleet.robots:
                soc = await opcua.get_node(opcua_node_id(fleet, robot.id, "soc_pct", ns)).read_value()
                x = await opcua.get_node(opcua_node_id(fleet, robot.id, "position_x_m", ns)).read_value()
                values.append((robot.id, soc, x))
        assert await asyncio.to_thread(simulate.interrupt) == 0, simulate.describe()
        return values
    finally:
        simulate.kill()


async def test_seed_is_honoured(tmp_path: Path) -> None:
    runs = await asyncio.gather(*(first_fleet_values(tmp_path / f"run{i}", seed) for i, seed in enumerate((5, 5, 6))))
    assert runs[0] == runs[1]
    assert [soc for _, soc, _ in runs[0]] != [soc for _, soc, _ in runs[2]]
    assert all(60.0 <= soc <= 100.0 for run in runs for _, soc, _ in run)  # the documented initial range


async def test_time_scale_is_honoured(tmp_path: Path) -> None:
    """At 3600× a wall second is a simulated hour: the line's energy counter runs accordingly."""
    plant_file = plant_file_on_free_ports(tmp_path)
    plant = load_plant(plant_file)
    simulate = Command("simulate", "printer", "--plant", str(plant_file), "--time-scale", "3600", cwd=tmp_path)
    try:
        simulate.wait_for_line(r"press Ctrl-C to stop")
        client = await modbus_client(plant)
        try:

            async def energy() -> float:
                return decoded(plant, "energy_kwh_total", await read_printer_signal(plant, "energy_kwh_total", client))

            t0, e0 = time.monotonic(), await energy()
            # Even switched off the line draws 5 % of its idle power: 3 kW, i.e. >= 3 kWh per wall second here.
            deadline = t0 + 30
            while (e1 := await energy()) - e0 < 10.0:
                assert time.monotonic() < deadline, f"energy grew only {e1 - e0} kWh in 30 s at 3600x"
                await asyncio.sleep(0.1)
            elapsed = time.monotonic() - t0
        finally:
            client.close()
        # At real time the most the line could draw is ~0.1 kWh per wall second; here it is > 10x that.
        assert (e1 - e0) / elapsed > 1.0
        assert simulate.interrupt() == 0, simulate.describe()
    finally:
        simulate.kill()
