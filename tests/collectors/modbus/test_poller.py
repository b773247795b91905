"""The poller against a real pymodbus TCP server on loopback (tests/collectors/modbus/_plc.py)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence

import numpy as np
import pytest

from shopfloor.collectors.modbus.plan import PlanLimits, plan_printer
from shopfloor.collectors.modbus.poller import ModbusPoller
from shopfloor.collectors.modbus.reference import min_requests
from shopfloor.models.plant import Printer, load_plant
from shopfloor.models.samples import ConnectivityEvent, SampleBatch, SampleSink
from shopfloor.models.states import Quality
from tests.collectors.modbus._plc import TestPlc
from tests.fixtures.waiting import async_wait_until as wait_for

DEADLINE_S = 30.0  # generous: the machine is shared and loaded


class ListSink:
    """Keeps what the poller writes, in order (the real stores are tested in tests/store)."""

    def __init__(self, on_write: Callable[[SampleBatch], None] | None = None) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[ConnectivityEvent] = []
        self.on_write = on_write

    def write(self, batch: SampleBatch) -> None:
        self.batches.append(batch)
        if self.on_write is not None:
            self.on_write(batch)

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        self.events.extend(events)

    def good_batches(self) -> list[SampleBatch]:
        return [b for b in self.batches if b.good.all()]


class StepClock:
    """The poller's clock, moved only by the poller's own sleeps and by polls said to take time (``spend``).

    The cadence tests check the schedule the poller computes - deadlines on a grid, backoff between
    deadlines, ticks skipped after an overrun - so they read it on this clock, exactly, instead of on
    the wall clock, where a loaded machine adds its own delays. The reads still go over the socket.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def now_ns(self) -> int:
        return 1_767_600_000_000_000_000 + round(self.now * 1e9)

    def spend(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def poll_times_s(batches: list[SampleBatch]) -> np.ndarray:
    return np.array([int(b.ts_ns[0]) for b in batches], dtype=np.int64) / 1e9


def tuned(printer: Printer, **modbus: float) -> Printer:
    return printer.model_copy(update={"modbus": printer.modbus.model_copy(update=modbus)})


@pytest.fixture
async def plc() -> AsyncIterator[TestPlc]:
    server = await TestPlc(load_plant().printers[0]).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def printer(plc: TestPlc) -> Printer:
    # A short cadence keeps the suite fast; the timeout stays well above loopback latency under load.
    return tuned(plc.endpoint_printer, poll_interval_s=0.1, timeout_s=0.5)


class Running:
    """A poller's run() in a task, stopped and awaited on exit."""

    def __init__(self, poller: ModbusPoller) -> None:
        self.poller = poller
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.poller.run(self.stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, DEADLINE_S)


def values_of(batch: SampleBatch) -> dict[str, float]:
    return {f: v for f, v, q in zip(batch.field, batch.value, batch.quality, strict=True) if q == Quality.GOOD}


# --------------------------------------------------------------------------- one poll


async def test_default_map_decodes_to_the_served_values(plc: TestPlc, printer: Printer) -> None:
    sink = ListSink()
    batch = await ModbusPoller(printer, sink).poll_once()
    assert sink.batches == [batch]
    assert batch.field.tolist() == [s.name for s in printer.signals]
    assert batch.good.all(), batch.detail
    assert values_of(batch) == pytest.approx(plc.values, rel=1e-9)
    assert len(set(batch.ts_ns.tolist())) == 1
    assert abs(int(batch.ts_ns[0]) - time.time_ns()) < 60e9
    assert [(e.connected, e.equipment, e.source) for e in sink.events] == [(True, "mso-cpp-1", "modbus:mso-cpp-1")]


async def test_one_poll_sends_exactly_the_planned_optimal_requests(plc: TestPlc, printer: Printer) -> None:
    poller = ModbusPoller(printer, ListSink())
    await poller.poll_once()
    plan = plan_printer(printer)
    assert plc.requests == [(r.function_code, r.address, r.count) for r in plan]
    assert poller.counters.requests == len(plan) == min_requests(printer.signals, PlanLimits.of(printer.modbus))
    await poller.poll_once()
    assert len(plc.requests) == 2 * len(plan)
    # Read function codes only: the poller never writes to the PLC.
    assert {fc for fc, _, _ in plc.requests} <= {1, 2, 3, 4}


async def test_exception_on_one_block_marks_only_its_signals(plc: TestPlc, printer: Printer) -> None:
    water = printer.signal("water_l_total")
    plc.exceptions[(4, water.address)] = 2
    sink = ListSink()
    poller = ModbusPoller(printer, sink)
    batch = await poller.poll_once()
    quality = dict(zip(batch.field, batch.quality, strict=True))
    detail = dict(zip(batch.field, batch.detail, strict=True))
    assert quality.pop("water_l_total") == Quality.BAD_DEVICE_EXCEPTION
    assert "exception code 2" in detail["water_l_total"]
    assert np.isnan(batch.value[batch.field == "water_l_total"]).all()
    assert set(quality.values()) == {Quality.GOOD}
    assert values_of(batch) == pytest.approx({k: v for k, v in plc.values.items() if k != "water_l_total"})
    # Every request of the poll was still sent, and the device still counts as connected.
    assert len(plc.requests) == len(poller.plan)
    assert poller.counters.failures == 1
    assert [e.connected for e in sink.events] == [True]


async def test_garbage_is_bad_quality_never_a_value(plc: TestPlc, printer: Printer) -> None:
    await plc.set_words("state", [999])  # states are 0..8
    await plc.set_words("speed_m_min", [0x7FC0, 0x0000])  # float32 NaN
    await plc.set_value("dryer_1_temp_c", 301.0)  # above max = 300
    batch = await ModbusPoller(printer, ListSink()).poll_once()
    quality = dict(zip(batch.field, batch.quality, strict=True))
    assert quality["state"] == Quality.BAD_OUT_OF_RANGE
    assert quality["dryer_1_temp_c"] == Quality.BAD_OUT_OF_RANGE
    assert quality["speed_m_min"] == Quality.BAD_DECODE
    bad = batch.quality != Quality.GOOD
    assert bad.sum() == 3 and np.isnan(batch.value[bad]).all()
    assert "999" in dict(zip(batch.field, batch.detail, strict=True))["state"]
    assert values_of(batch)["speed_setpoint_m_min"] == pytest.approx(plc.values["speed_setpoint_m_min"])


async def test_unreachable_device_gives_one_bad_batch_and_one_event() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    printer = tuned(load_plant().printers[0], port=port, timeout_s=0.5)
    sink = ListSink()
    poller = ModbusPoller(printer, sink)
    for _ in range(3):
        batch = await poller.poll_once()
        assert (batch.quality == Quality.BAD_NO_COMMUNICATION).all() and np.isnan(batch.value).all()
    assert poller.counters.requests == 0
    assert [(e.connected, e.detail) for e in sink.events] == [(False, f"cannot connect to 127.0.0.1:{port}")]


# --------------------------------------------------------------------------- the loop


async def test_stall_is_no_communication_then_recovers(plc: TestPlc, printer: Printer) -> None:
    sink = ListSink()
    # Attempts start at least the backoff delay apart; once the delay (0.4, 0.8 s)
    # exceeds the 0.3 s timeout an attempt costs, ticks are spent waiting.
    poller = ModbusPoller(tuned(printer, timeout_s=0.3), sink, backoff_max_s=0.8)
    async with Running(poller):
        await wait_for(lambda: len(sink.good_batches()) >= 2, "good polls")
        plc.stalled = True
        await wait_for(lambda: [e.connected for e in sink.events] == [True, False], "link lost")
        stalled_at = len(sink.batches)
        await wait_for(lambda: poller.backoff.attempts >= 4, "a few reconnect attempts while stalled")
        plc.stalled = False
        await wait_for(lambda: [e.connected for e in sink.events] == [True, False, True], "link recovered")
        await wait_for(lambda: sink.batches[-1].good.all(), "good data again")
    during = sink.batches[stalled_at - 1 : -1]
    assert during and all((b.quality == Quality.BAD_NO_COMMUNICATION).all() for b in during[1:])
    assert all(np.isnan(b.value).all() for b in during[1:])
    lost = sink.events[1]
    assert "no response within 0.3 s" in lost.detail
    assert poller.counters.offline_ticks > 0  # backoff kept it from retrying on every tick
    assert sink.events[-1].connected is False and sink.events[-1].detail == "collector stopped"


async def test_dropped_connection_reconnects_and_records_the_gap(plc: TestPlc, printer: Printer) -> None:
    sink = ListSink()
    poller = ModbusPoller(printer, sink)
    async with Running(poller):
        await wait_for(lambda: len(sink.good_batches()) >= 2, "good polls")
        assert plc.drop_connections() == 1
        await wait_for(lambda: [e.connected for e in sink.events] == [True, False, True], "lost and recovered")
        await wait_for(lambda: sink.batches[-1].good.all(), "good data again")
    assert poller.counters.connects == 2
    lost, recovered = sink.events[1], sink.events[2]
    assert lost.ts_ns < recovered.ts_ns
    # The gap: between the two events no good value was stored.
    for batch in sink.batches:
        if lost.ts_ns <= batch.ts_ns[0] < recovered.ts_ns:
            assert not batch.good.any()
    assert "recovered after" in recovered.detail


async def test_unreachable_device_retries_with_capped_exponential_backoff() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    printer = tuned(load_plant().printers[0], port=port, poll_interval_s=0.05, timeout_s=0.5)
    sink = ListSink()
    poller = ModbusPoller(printer, sink, backoff_max_s=0.4, clock=StepClock())
    async with Running(poller):
        await wait_for(lambda: len(sink.batches) >= 7, "seven connection attempts")
    gaps = np.diff(poll_times_s(sink.batches[:7]))
    # Attempts run on the poll grid, so each gap is exactly the backoff delay.
    assert gaps == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.4, 0.4], abs=1e-6), gaps
    assert len(sink.events) == 1 and not sink.events[0].connected
    assert poller.counters.offline_ticks >= 1 + 3 + 7 + 7 + 7


async def test_cadence_has_no_drift_even_when_each_poll_takes_time(plc: TestPlc, printer: Printer) -> None:
    interval_s = 0.2
    clock = StepClock()
    # Each poll takes 40 ms: a scheduler sleeping "interval after the poll" would slip 40 ms a tick.
    sink = ListSink(on_write=lambda _b: clock.spend(0.04))
    poller = ModbusPoller(tuned(printer, poll_interval_s=interval_s), sink, clock=clock)
    async with Running(poller):
        await wait_for(lambda: len(sink.batches) >= 16, "sixteen polls")
    elapsed = poll_times_s(sink.batches) - poll_times_s(sink.batches[:1])
    # every poll on its deadline t0 + k * interval, none skipped
    assert elapsed == pytest.approx(interval_s * np.arange(len(elapsed)), abs=1e-6), elapsed
    assert poller.counters.skipped_ticks == 0
    assert all(b.good.all() for b in sink.batches)


async def test_an_overrunning_poll_skips_ticks_instead_of_bursting(plc: TestPlc, printer: Printer) -> None:
    interval_s = 0.1
    clock = StepClock()

    def slow_sink(_batch: SampleBatch) -> None:
        if len(sink.batches) == 4:
            clock.spend(0.35)  # the fourth poll (t0 + 0.3 s) overruns three and a half intervals

    sink = ListSink(on_write=slow_sink)
    poller = ModbusPoller(tuned(printer, poll_interval_s=interval_s), sink, clock=clock)
    async with Running(poller):
        await wait_for(lambda: len(sink.batches) >= 8, "eight polls")
    # It ends at t0 + 0.65 s: the ticks at 0.4, 0.5 and 0.6 are skipped and counted, the next poll is at
    # 0.7, on the grid, and none is run to catch up (no burst).
    elapsed = poll_times_s(sink.batches[:8]) - poll_times_s(sink.batches[:1])
    assert elapsed == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0], abs=1e-6), elapsed
    assert poller.counters.skipped_ticks == 3


async def test_stop_closes_the_link_and_says_so(plc: TestPlc, printer: Printer) -> None:
    sink = ListSink()
    poller = ModbusPoller(printer, sink)
    async with Running(poller):
        await wait_for(lambda: len(sink.batches) >= 1, "one poll")
    assert [e.connected for e in sink.events] == [True, False]
    assert sink.events[-1].detail == "collector stopped"
    assert isinstance(sink, SampleSink)
    # The poller can be used again after a stop: it reconnects on the next poll.
    assert (await poller.poll_once()).good.all()
    assert [e.connected for e in sink.events] == [True, False, True]
    poller.close()


# --------------------------------------------------------------------------- a sink that raises


class FlakySink(ListSink):
    """Raises on the polls listed in ``refuse`` (poll number → error), like a store refusing a batch."""

    def __init__(self, refuse: dict[int, Exception]) -> None:
        super().__init__()
        self.refuse = refuse
        self.calls = 0

    def write(self, batch: SampleBatch) -> None:
        self.calls += 1
        error = self.refuse.get(self.calls)
        if error is not None:
            raise error
        super().write(batch)


async def test_a_sink_that_raises_is_logged_once_per_error_counted_and_polling_goes_on(
    plc: TestPlc, printer: Printer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shopfloor.collectors.modbus")
    refuse: dict[int, Exception] = {n: ValueError("field(s) ['x'] not declared") for n in (2, 3, 4, 7)}
    refuse[5] = OSError("disk full")
    sink = FlakySink(refuse)
    poller = ModbusPoller(printer, sink)
    async with Running(poller):
        await wait_for(lambda: sink.calls >= 10, "ten polls, five of them refused by the sink")
    assert poller.counters.sink_failures == 5
    assert len(sink.batches) == poller.counters.polls - 5  # every other batch reached the sink
    assert all(b.good.all() for b in sink.batches)  # the device was fine all along: no gap recorded as a fault
    assert [e.connected for e in sink.events] == [True, False]  # the link never dropped
    refused = [r for r in caplog.records if "the sink refused" in r.getMessage()]
    # polls 2-4: one line; poll 5: a new error, one line; poll 6 works (one "again" line); poll 7: logged again
    assert [("ValueError" in r.getMessage(), r.levelno) for r in refused] == [
        (True, logging.ERROR),
        (False, logging.ERROR),
        (True, logging.ERROR),
    ], [r.getMessage() for r in refused]
    assert len([r for r in caplog.records if "accepts writes again" in r.getMessage()]) == 2


class RaisingLinkSink(ListSink):
    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        raise RuntimeError("connectivity table locked")


async def test_a_sink_refusing_link_events_does_not_stop_polling(plc: TestPlc, printer: Printer) -> None:
    sink = RaisingLinkSink()
    poller = ModbusPoller(printer, sink)
    async with Running(poller):
        await wait_for(lambda: len(sink.batches) >= 3, "three polls")
    # the "connected" event and the "collector stopped" event both raised; neither ended the task
    assert poller.counters.sink_failures == 2
    assert all(b.good.all() for b in sink.batches)
