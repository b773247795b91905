"""Determinism and time scaling over the wire, and an independent client (mbpoll)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time

import pytest
from pymodbus.client import AsyncModbusTcpClient

from shopfloor.models.plant import Plant, RegisterKind
from shopfloor.models.states import PrinterState
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.printer.server import PrinterSimulator
from tests.simulators.printer._wire import read_response, read_signal


async def snapshot(client: AsyncModbusTcpClient) -> tuple[list[int], ...]:
    """Every table as served: holding 0..33, input 0..3 and 100..101, coil 0, discrete inputs 0..1."""
    parts = []
    for table, address, count in (
        (RegisterKind.HOLDING, 0, 34),
        (RegisterKind.INPUT, 0, 6),
        (RegisterKind.INPUT, 100, 2),
        (RegisterKind.COIL, 0, 1),
        (RegisterKind.DISCRETE_INPUT, 0, 2),
    ):
        response = await read_response(client, table, address, count)
        assert not response.isError(), response
        parts.append([int(x) for x in (response.bits[:count] if table.is_bit else response.registers)])
    return tuple(parts)


async def served_trajectory(
    plant: Plant,
    start_ns: int,
    seed: int,
    chunks_s: list[float],
) -> list[tuple[list[int], ...]]:
    """Advance a ManualClock in the given chunks; snapshot the wire at each hour boundary."""
    clock = ManualClock(start_ns=start_ns)
    out = []
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, seed=seed, clock=clock) as sim:
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0)
        assert await client.connect()
        try:
            for chunk in chunks_s:
                clock.advance(chunk)
                await sim.wait_caught_up()
                if (clock.now_ns() - start_ns) % (3600 * NS_PER_S) == 0:
                    out.append(await snapshot(client))
        finally:
            client.close()
    return out


async def test_same_seed_same_wire_trajectory_whatever_the_pace(plant: Plant, shift_start_ns: int) -> None:
    hours = 8
    coarse = await served_trajectory(plant, shift_start_ns, 42, [3600.0] * hours)
    fine = await served_trajectory(plant, shift_start_ns, 42, [7.0, 593.0, 1200.0, 1800.0] * hours)
    other = await served_trajectory(plant, shift_start_ns, 43, [3600.0] * hours)
    assert len(coarse) == len(fine) == hours
    assert coarse == fine
    assert coarse != other


async def test_time_scale_600_runs_a_shift_in_under_a_minute(plant: Plant) -> None:
    """Simulated time advances scale × wall, and the model keeps up with it.

    At 600x a millisecond of the test's own delay is 0.6 simulated seconds, so no single wall-clock
    reading is compared with the model. The model is read when it has caught up with the clock (it is
    then within one step of it), and each such moment is bracketed by two wall-clock stamps: the
    inner stamps bound the elapsed time from below, the outer ones from above, however late they are.
    """
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, time_scale=600.0) as sim:
        assert sim.clock.time_scale == 600.0
        step_s = sim.process.step_s
        outer0 = time.monotonic()
        model0 = await sim.wait_caught_up()
        inner0 = time.monotonic()
        await asyncio.sleep(3.0)  # simulated time passes; how long exactly is measured, not assumed
        inner1 = time.monotonic()
        model1 = await sim.wait_caught_up()
        outer1 = time.monotonic()
        sim_s = (model1 - model0) / NS_PER_S
        assert 600 * (inner1 - inner0) - step_s <= sim_s <= 600 * (outer1 - outer0) + step_s
        shift_wall_s = 8 * 3600 / (sim_s / (outer1 - outer0))  # at the slowest rate the stamps allow
        assert shift_wall_s < 60


async def test_a_whole_shift_over_the_wire_at_high_scale(plant: Plant) -> None:
    """At 7200× an 8-hour shift passes in about 4 s of wall time, served throughout."""
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, seed=9, time_scale=7200.0) as sim:
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0)
        assert await client.connect()
        try:
            run_time = sim.printer.signal("run_time_s_total")
            seen_states: set[int] = set()
            readings = []
            deadline = time.monotonic() + 45
            while sim.process.truth.elapsed_s < 8 * 3600 and time.monotonic() < deadline:
                readings.append(await read_signal(client, run_time))
                seen_states.add(int(await read_signal(client, sim.printer.signal("state"))))
                await asyncio.sleep(0.02)
        finally:
            client.close()
        assert sim.process.truth.elapsed_s >= 8 * 3600
        assert readings == sorted(readings) and readings[-1] > 4 * 3600
        assert PrinterState.RUNNING in seen_states and len(seen_states) >= 2  # stops were served too


async def test_mbpoll_reads_what_the_model_holds(sim: PrinterSimulator, clock: ManualClock) -> None:
    if shutil.which("mbpoll") is None:
        reason = "mbpoll not on PATH (apt-get install -y mbpoll)"
        if os.environ.get("SHOPFLOOR_REQUIRE_MBPOLL") == "1":
            pytest.fail(f"{reason}; CI requires it (SHOPFLOOR_REQUIRE_MBPOLL=1)")
        pytest.skip(reason)
    clock.advance(1234)
    await sim.wait_caught_up()
    proc = await asyncio.create_subprocess_exec(
        "mbpoll",
        "-m",
        "tcp",
        "-a",
        str(sim.unit_id),
        "-0",
        "-r",
        "0",
        "-c",
        "14",
        "-t",
        "4",
        "-1",
        "-o",
        "5",
        "-p",
        str(sim.port),
        "127.0.0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    words = {int(a): int(v) for a, v in re.findall(r"^\[(\d+)\]:\s+(-?\d+)", out.decode(), re.M)}
    assert sorted(words) == list(range(14))
    values = sim.process.values()
    # mbpoll prints signed 16-bit values; compare the bit patterns.
    assert words[0] & 0xFFFF == int(values["state"])
    assert words[1] & 0xFFFF == int(values["stop_reason"])
    printed_raw = round(values["printed_m_total"] / 0.1) % (1 << 32)
    assert ((words[10] & 0xFFFF) << 16 | (words[11] & 0xFFFF)) == printed_raw
    defective_raw = round(values["defective_m_total"] / 0.1) % (1 << 32)
    assert ((words[13] & 0xFFFF) << 16 | (words[12] & 0xFFFF)) == defective_raw  # CDAB: low word first
    floats = await asyncio.create_subprocess_exec(
        "mbpoll",
        "-m",
        "tcp",
        "-a",
        str(sim.unit_id),
        "-0",
        "-r",
        "2",
        "-c",
        "2",
        "-t",
        "4:float",
        "-B",
        "-1",
        "-o",
        "5",
        "-p",
        str(sim.port),
        "127.0.0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(floats.communicate(), 30)
    assert floats.returncode == 0, err.decode()
    speeds = [float(v) for v in re.findall(r"^\[\d+\]:\s+(-?[\d.]+)", out.decode(), re.M)]
    assert speeds == pytest.approx([values["speed_m_min"], values["speed_setpoint_m_min"]], rel=1e-6)
