"""The printing-line simulator: the process model served over a real Modbus TCP server.

pymodbus 3.16 serves through a "context" whose ``async_getValues`` answers
every read. We give it our own context (a ``ModbusServerContext`` subclass,
taking pymodbus' supported custom-context path) that reads the tables the
process model fills, and that is also where faults are injected: an
exception code is returned as a real Modbus exception response, a stall
never completes the request, and dropping closes the server side of every
socket. So every fault reaches the client over the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from shopfloor.models.plant import Plant, Printer
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import SimClock, SimulatedClock, run_fixed_steps
from shopfloor.simulators.printer.faults import ExceptionRule, FaultState, exception_code
from shopfloor.simulators.printer.process import MODEL_SIGNALS, PrinterProcess
from shopfloor.simulators.printer.registers import READ_FUNCTION_TABLES, Override, RegisterTables, make_override

log = logging.getLogger("shopfloor.simulators.printer")

STEP_S = 1.0  # the process model's fixed simulated step


class _SimulatorContext(ModbusServerContext):
    """pymodbus' datastore hook: every request lands in the simulator."""

    # No super().__init__(): it only warns about deprecation and wraps SimDevices we do not use.
    def __init__(self, simulator: PrinterSimulator) -> None:
        self.old_simulator = True  # pymodbus then calls our async_getValues/async_setValues directly
        self.simdevices = []
        self._simulator = simulator

    async def async_getValues(  # pymodbus' name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        return await self._simulator._serve_read(device_id, func_code, address, count)

    async def async_setValues(  # pymodbus' name
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        self._simulator._check_unit(device_id)
        return ExcCodes.ILLEGAL_FUNCTION  # the line PLC does not accept writes from the monitoring system

    def device_ids(self) -> list[int]:
        return [self._simulator.unit_id]


class PrinterSimulator:
    """One printer: process model + Modbus TCP server + fault injection."""

    def __init__(
        self,
        plant: Plant,
        printer_id: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        seed: int | None = None,
        time_scale: float | None = None,
        clock: SimulatedClock | None = None,
    ) -> None:
        self.plant = plant
        self.printer: Printer = plant.printer(printer_id) if printer_id else plant.printers[0]
        endpoint = self.printer.modbus
        self._host = endpoint.host if host is None else host
        self._requested_port = endpoint.port if port is None else port
        self.unit_id = endpoint.unit_id
        if clock is None:
            scale = plant.simulation.time_scale if time_scale is None else time_scale
            # A whole-second start keeps every step boundary on a whole second.
            clock = SimClock(start_ns=time.time_ns() // NS_PER_S * NS_PER_S, time_scale=scale)
        self.clock = clock
        self._process = PrinterProcess(plant, self.printer.id, seed=seed, start_ns=clock.start_ns, step_s=STEP_S)
        self._tables = RegisterTables(self.printer, MODEL_SIGNALS)
        self._faults = FaultState()
        self._overrides: dict[str, Override] = {}
        self._server: ModbusTcpServer | None = None
        self._stepper: asyncio.Task[int] | None = None
        self._stop = asyncio.Event()
        self._refreshed = asyncio.Event()
        self._stall_released: asyncio.Future[None] | None = None
        self._model_failed = False
        self._refresh()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._stop.clear()
        server = ModbusTcpServer(_SimulatorContext(self), address=(self._host, self._requested_port))
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {self._host}:{self._requested_port}: {exc}") from exc
        self._server = server
        self._stepper = asyncio.create_task(
            run_fixed_steps(
                self.clock,
                STEP_S,
                self._process.advance,
                self._stop,
                model_start_ns=self._process.now_ns,
                on_caught_up=lambda _ns: self._refresh(),
            ),
            name=f"printer-sim-{self.printer.id}",
        )
        self._stepper.add_done_callback(self._stepper_done)
        log.info("printer simulator serving %s", self.endpoint)

    async def stop(self) -> None:
        self._stop.set()
        self._release_stalled()
        stepper, self._stepper = self._stepper, None
        try:
            if stepper is not None:
                await stepper  # re-raises a model error here, after the server is closed below
        finally:
            if self._server is not None:
                server, self._server = self._server, None
                await server.shutdown()

    def _stepper_done(self, task: asyncio.Task[int]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Frozen values would look like a healthy idle machine: from now on every read
            # is answered "server device failure", so a collector records bad quality.
            self._model_failed = True
            log.error("printer %s: the process model stopped", self.printer.id, exc_info=task.exception())

    async def __aenter__(self) -> PrinterSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ properties

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port actually listened on (the OS's choice when asked for 0)."""
        if self._server is None or self._server.transport is None:
            if self._requested_port == 0:
                raise RuntimeError("the port is chosen when the simulator starts")
            return self._requested_port
        return int(self._server.transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]  # a listening pymodbus transport is an asyncio.Server

    @property
    def endpoint(self) -> str:
        return f"modbus-tcp://{self.host}:{self.port} unit {self.unit_id}"

    @property
    def process(self) -> PrinterProcess:
        """The process model: ``process.truth`` is the ground truth."""
        return self._process

    @property
    def connections(self) -> int:
        return 0 if self._server is None else len(self._server.active_connections)

    async def wait_caught_up(self, timeout_s: float = 30.0) -> int:
        """Wait until the model has caught up with the clock; returns the model's time."""
        deadline = time.monotonic() + timeout_s
        while self._process.now_ns + self._process.step_ns <= self.clock.now_ns():
            if self._stepper is None or self._stepper.done():
                raise RuntimeError("the simulator is not running")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the model did not catch up with the clock within {timeout_s} s")
            self._refreshed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refreshed.wait(), min(remaining, 0.5))
        return self._process.now_ns

    # ------------------------------------------------------------------ overrides and faults

    def set_override(self, signal: str, value: float | Sequence[int]) -> None:
        """Pin a signal to an engineering value (or raw words) until ``clear_override``."""
        self._overrides[signal] = make_override(self.printer.signal(signal), value)
        self._refresh()

    def clear_override(self, signal: str | None = None) -> None:
        """Unpin one signal, or all of them."""
        if signal is None:
            self._overrides.clear()
        else:
            self.printer.signal(signal)
            self._overrides.pop(signal, None)
        self._refresh()

    def inject_drop_connections(self) -> int:
        """Close every client connection now (the server keeps listening); returns how many."""
        if self._server is None:
            return 0
        connections = list(self._server.active_connections.values())
        for connection in connections:
            connection.close()
        log.info("printer %s: dropped %d connection(s)", self.printer.id, len(connections))
        return len(connections)

    def inject_stall(self, active: bool) -> None:
        """While active, requests are received and never answered (the client times out)."""
        self._faults.stalled = active
        if not active:
            self._release_stalled()

    def inject_exception(self, signal_names: Iterable[str] | None, code: int) -> None:
        """Answer reads touching these signals (None: every read) with this exception code."""
        names = None
        if signal_names is not None:
            names = frozenset(signal_names)
            for name in names:
                self.printer.signal(name)  # KeyError names the unknown signal
        self._faults.exceptions.append(ExceptionRule(names, exception_code(code)))

    def inject_value(self, signal: str, value: float | Sequence[int]) -> None:
        """Serve garbage for a signal: raw words (any bit pattern, e.g. a NaN) or an engineering value."""
        self._faults.values[signal] = make_override(self.printer.signal(signal), value)
        self._refresh()

    def inject_emergency_stop(self, active: bool) -> None:
        """Press or release the emergency stop (a process event: the line goes HELD)."""
        self._process.set_emergency_stop(active)
        self._refresh()

    def clear_faults(self) -> None:
        """Back to normal service: no stall, no exceptions, no garbage, emergency stop released."""
        self._faults.clear()
        self._release_stalled()
        if self._process.emergency_stop:
            self._process.set_emergency_stop(False)
        self._refresh()

    # ------------------------------------------------------------------ serving

    def _refresh(self) -> None:
        self._tables.refresh(self._process.values(), self._overrides | self._faults.values)
        self._refreshed.set()

    def _check_unit(self, device_id: int) -> None:
        if device_id != self.unit_id:
            raise NoSuchIdException(f"unit {device_id} is not served (the printer is unit {self.unit_id})")

    async def _serve_read(
        self, device_id: int, func_code: int, address: int, count: int
    ) -> list[int] | list[bool] | ExcCodes:
        self._check_unit(device_id)
        if self._faults.stalled:
            await self._stalled()
        if self._model_failed:
            return ExcCodes.DEVICE_FAILURE
        table = READ_FUNCTION_TABLES.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        words = self._tables.read(table, address, count)
        if words is None:
            return ExcCodes.ILLEGAL_ADDRESS
        code = self._faults.exception_for(self._tables.signals_in(table, address, count))
        if code is not None:
            return code
        return [bool(w) for w in words] if table.is_bit else words

    async def _stalled(self) -> None:
        if self._stall_released is None or self._stall_released.done():
            self._stall_released = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._stall_released)
        # The stall is over, but this request was swallowed: a stalled device never
        # answers it. Cancelling our own task ends pymodbus' handler without a reply.
        raise asyncio.CancelledError

    def _release_stalled(self) -> None:
        if self._stall_released is not None and not self._stall_released.done():
            self._stall_released.set_result(None)
