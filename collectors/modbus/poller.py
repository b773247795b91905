"""The Modbus TCP poller: the only module that talks to a printer's PLC.

One :class:`ModbusPoller` per printer. Each poll reads the planned requests
(:mod:`collectors.modbus.plan`), decodes them (:mod:`collectors.modbus.decode`)
and hands one :class:`~models.samples.SampleBatch` to the sink, every sample
stamped with the one UTC timestamp taken when the poll started.

Failure rules:

* An exception response (the device answered "no") marks only the signals of
  that request BAD_DEVICE_EXCEPTION; the other requests of the poll are read.
* A timeout or a dropped connection marks that request and every request not
  yet read in this poll BAD_NO_COMMUNICATION, closes the connection and
  records the link as lost. The rest of the poll is not attempted: after a
  timeout a late reply could be matched to the next request (pymodbus keeps
  one pending transaction), and a stalled device would otherwise cost one
  timeout per request and overrun the cadence.
* While the link is down, reconnects are attempted on the poll grid, spaced by
  a capped exponential backoff; ticks in between produce no samples (the
  ``connectivity`` record tells the KPI layer it is a gap, not a zero). Every
  attempt that fails still yields one batch, all BAD_NO_COMMUNICATION.

A sink that raises (a store refusing a batch, a disk error) is logged once per
distinct error, counted in ``counters.sink_failures``, and polling goes on.

Only read function codes (1, 2, 3, 4) are ever sent: there is no write call in
this module, whatever ``write_enabled`` says.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from shopfloor.collectors.base import Backoff, ConnectivityTracker, GuardedSink, next_tick
from shopfloor.collectors.modbus.decode import (
    Reading,
    decode_response,
    exception_detail,
    fail_request,
    readings_to_batch,
)
from shopfloor.collectors.modbus.plan import ReadRequest, plan_printer
from shopfloor.models.plant import Printer, RegisterKind
from shopfloor.models.samples import ConnectivityEvent, SampleBatch, SampleSink
from shopfloor.models.states import Quality
from shopfloor.models.timebase import Clock, SystemClock

log = logging.getLogger("shopfloor.collectors.modbus")


@dataclass(slots=True)
class PollerCounters:
    polls: int = 0  # polls attempted (each wrote one batch)
    requests: int = 0  # read requests sent to the device
    failures: int = 0  # requests not read (exception response, timeout, or skipped because the link was down)
    skipped_ticks: int = 0  # ticks missed because a poll overran its interval
    offline_ticks: int = 0  # ticks spent waiting for the next reconnect attempt
    connects: int = 0  # successful TCP connects
    sink_failures: int = 0  # batches or link events the sink raised on (logged once per distinct error)


class ModbusPoller:
    """Polls one printer on its ``poll_interval_s`` cadence into ``sink``.

    ``backoff_max_s`` (default: the endpoint's ``reconnect_max_s``) caps the
    delay between reconnect attempts; the first delay is one poll interval.
    The endpoint, limits and register map all come from ``printer`` (the
    plant model).
    """

    def __init__(
        self,
        printer: Printer,
        sink: SampleSink,
        *,
        clock: Clock | None = None,
        backoff_max_s: float | None = None,
    ) -> None:
        self.printer = printer
        self.endpoint = printer.modbus
        self.sink = sink
        self.clock: Clock = clock or SystemClock()
        self.plan: tuple[ReadRequest, ...] = plan_printer(printer)
        self.source = f"modbus:{printer.id}"
        self.counters = PollerCounters()
        self.connectivity = ConnectivityTracker(printer.id, self.source, log)
        interval = self.endpoint.poll_interval_s
        cap_s = self.endpoint.reconnect_max_s if backoff_max_s is None else backoff_max_s
        self.backoff = Backoff(interval, max(interval, cap_s))
        self._order = {s.name: i for i, s in enumerate(printer.signals)}
        self._client: AsyncModbusTcpClient | None = None
        self._retry_at: float | None = None  # monotonic time of the next reconnect attempt, None when up
        self._guarded = GuardedSink(sink, self.source, log, on_failure=self._count_sink_failure)

    @property
    def is_connected(self) -> bool:
        return self.connectivity.is_connected

    def counts(self) -> dict[str, int]:
        return dataclasses.asdict(self.counters)

    # ------------------------------------------------------------------ one poll

    async def poll_once(self) -> SampleBatch:
        """Read every planned request once, write the batch (and any link change) to the sink, return it."""
        ts_ns = self.clock.now_ns()
        self.counters.polls += 1
        readings: list[Reading] = []
        lost: str | None = None
        if self._client is not None and not self._client.connected:
            # Closed by the device (or the network) since the last poll: that is
            # a lost link like any other, so it waits for the backoff too.
            self._close()
            lost = "connection closed by the device"
        elif not await self._ensure_connected():
            lost = f"cannot connect to {self.endpoint.host}:{self.endpoint.port}"
        for request in self.plan:
            if lost is not None:
                readings += fail_request(request, Quality.BAD_NO_COMMUNICATION, f"not read: {lost}")
                self.counters.failures += 1
                continue
            readings += await self._read(request)
            if readings[-1].quality is Quality.BAD_NO_COMMUNICATION:
                lost = readings[-1].detail
        if lost is not None:
            self._close()
            self._emit(self.connectivity.lost(ts_ns, lost))
        else:
            self._emit(self.connectivity.connected(ts_ns))
        readings.sort(key=lambda r: self._order[r.signal])
        batch = readings_to_batch(self.printer.id, ts_ns, readings)
        self._guarded.write(batch)
        return batch

    def _count_sink_failure(self) -> None:
        self.counters.sink_failures += 1

    async def _read(self, request: ReadRequest) -> list[Reading]:
        assert self._client is not None
        self.counters.requests += 1
        try:
            # pymodbus applies the endpoint timeout per request; the outer
            # guard only bounds a request stuck anywhere else (e.g. a lock).
            response = await asyncio.wait_for(self._send(self._client, request), self.endpoint.timeout_s * 2 + 1)
        except (TimeoutError, ModbusIOException):
            self.counters.failures += 1
            return fail_request(
                request,
                Quality.BAD_NO_COMMUNICATION,
                f"no response within {self.endpoint.timeout_s:g} s to {request.describe()}",
            )
        except (ModbusException, OSError) as exc:
            self.counters.failures += 1
            return fail_request(
                request, Quality.BAD_NO_COMMUNICATION, f"{type(exc).__name__} on {request.describe()}: {exc}"
            )
        if response.isError():
            self.counters.failures += 1
            code = int(getattr(response, "exception_code", 0))
            return fail_request(request, Quality.BAD_DEVICE_EXCEPTION, exception_detail(request, code))
        words = response.bits if request.table.is_bit else response.registers
        return decode_response(request, words)

    async def _send(self, client: AsyncModbusTcpClient, request: ReadRequest) -> ModbusPDU:
        address, count, device_id = request.address, request.count, self.endpoint.unit_id
        match request.table:
            case RegisterKind.HOLDING:
                return await client.read_holding_registers(address, count=count, device_id=device_id)
            case RegisterKind.INPUT:
                return await client.read_input_registers(address, count=count, device_id=device_id)
            case RegisterKind.COIL:
                return await client.read_coils(address, count=count, device_id=device_id)
            case RegisterKind.DISCRETE_INPUT:
                return await client.read_discrete_inputs(address, count=count, device_id=device_id)
        raise AssertionError(request.table)

    async def _ensure_connected(self) -> bool:
        if self._client is not None:
            return True
        # retries=0: one timeout is a failure, the poller decides what follows.
        # reconnect_delay=0: pymodbus must not reconnect behind our back; the
        # poller owns the backoff and the connectivity record.
        client = AsyncModbusTcpClient(
            self.endpoint.host,
            port=self.endpoint.port,
            timeout=self.endpoint.timeout_s,
            retries=0,
            reconnect_delay=0,
            name=self.source,
        )
        try:
            ok = await asyncio.wait_for(client.connect(), self.endpoint.timeout_s * 2 + 1)
        except (TimeoutError, ModbusException, OSError):
            ok = False
        if not ok:
            client.close()
            return False
        self._client = client
        self.counters.connects += 1
        return True

    def close(self) -> None:
        """Drop the connection (the next poll reconnects). ``run`` does this when it stops."""
        self._close()

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _emit(self, event: ConnectivityEvent | None) -> None:
        if event is not None:
            self._guarded.write_connectivity([event])

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        """Poll on the grid ``t0 + k * poll_interval_s`` until ``stop`` is set; then close the link."""
        interval = self.endpoint.poll_interval_s
        t0 = self.clock.monotonic()
        index = 0
        deadline = t0
        log.info(
            "%s: polling %s:%d every %.3g s with %d request(s) per poll",
            self.source,
            self.endpoint.host,
            self.endpoint.port,
            interval,
            len(self.plan),
        )
        try:
            while not stop.is_set():
                if await self._wait_until(deadline, stop):
                    break
                await self._tick(deadline)
                tick = next_tick(t0, interval, index, self.clock.monotonic())
                self.counters.skipped_ticks += tick.skipped
                index, deadline = tick.index, tick.deadline
        finally:
            self._close()
            if self.connectivity.is_connected:
                self._emit(self.connectivity.lost(self.clock.now_ns(), "collector stopped"))

    async def _tick(self, deadline: float) -> None:
        # Backoff is measured between tick deadlines, so a delay of one
        # interval retries on the very next tick, two intervals skips one, …
        if self._retry_at is not None and deadline < self._retry_at - 1e-9:
            self.counters.offline_ticks += 1
            return
        await self.poll_once()
        if self.connectivity.is_connected:
            self.backoff.reset()
            self._retry_at = None
        else:
            self._retry_at = deadline + self.backoff.next_delay()

    async def _wait_until(self, deadline: float, stop: asyncio.Event) -> bool:
        """Sleep until ``deadline`` (monotonic); True when ``stop`` was set meanwhile."""
        delay = deadline - self.clock.monotonic()
        if delay <= 0:
            return stop.is_set()
        stopper = asyncio.ensure_future(stop.wait())
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        try:
            await asyncio.wait({stopper, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopper, sleeper):
                task.cancel()
        return stop.is_set()
