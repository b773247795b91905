"""Fixtures for the printer simulator tests: plants, a started simulator on a free port, a client."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from shopfloor.models.calendar import to_ns
from shopfloor.models.plant import Plant, load_plant
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.printer.server import PrinterSimulator


@pytest.fixture(scope="session")
def plant() -> Plant:
    return load_plant(None)


@pytest.fixture(scope="session")
def shift_start_ns(plant: Plant) -> int:
    """06:00 local on a weekday: the early shift starts, its break is at 10:00."""
    return to_ns(dt.datetime(2026, 11, 24, 6, 0, tzinfo=plant.tz))


@pytest.fixture
def clock(shift_start_ns: int) -> ManualClock:
    return ManualClock(start_ns=shift_start_ns)


@pytest.fixture
async def sim(plant: Plant, clock: ManualClock) -> AsyncIterator[PrinterSimulator]:
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, seed=7, clock=clock) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: PrinterSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    modbus = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0)
    assert await modbus.connect(), f"cannot connect to {sim.endpoint}"
    yield modbus
    modbus.close()
