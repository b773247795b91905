"""Modbus request benchmark: requests per poll and polls per second.

    python -m bench.modbus_requests [--plant FILE] [--seconds 2] [--runs 3]

For every printer of the plant file:

* requests per poll of the coalesced plan vs one request per signal, and a
  check that the plan equals the optimum found by the brute-force set cover
  in collectors/modbus/reference.py;
* polls per second of :class:`ModbusPoller.poll_once` against a real pymodbus
  server on loopback serving the printer's map, with the coalesced plan and
  with one request per signal, measured alternately in the same run and
  reported as medians and their ratio (the machine is shared: absolute
  numbers drift, ratios much less). The server is the printer simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from collections.abc import Sequence
from typing import Protocol

from shopfloor.collectors.modbus.plan import PlanLimits, ReadRequest, plan_printer
from shopfloor.collectors.modbus.poller import ModbusPoller
from shopfloor.collectors.modbus.reference import min_requests
from shopfloor.models.plant import Plant, Printer, load_plant
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.simulators.printer.server import PrinterSimulator


class Stoppable(Protocol):
    async def stop(self) -> None: ...


class CountingSink:
    def __init__(self) -> None:
        self.batches = 0
        self.bad = 0

    def write(self, batch: SampleBatch) -> None:
        self.batches += 1
        self.bad += int((~batch.good).sum())

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        pass


def one_request_per_signal(printer: Printer) -> tuple[ReadRequest, ...]:
    return tuple(ReadRequest(s.table, s.address, s.count, (s,)) for s in printer.signals)


async def polls_per_second(poller: ModbusPoller, seconds: float) -> float:
    await poller.poll_once()  # connect outside the timed window
    start = time.perf_counter()
    polls = 0
    while time.perf_counter() - start < seconds:
        await poller.poll_once()
        polls += 1
    return polls / (time.perf_counter() - start)


async def start_server(plant: Plant, printer: Printer) -> tuple[Stoppable, Printer, str]:
    sim = PrinterSimulator(plant, printer.id, host="127.0.0.1", port=0)
    await sim.start()
    modbus = printer.modbus.model_copy(update={"host": "127.0.0.1", "port": sim.port})
    return sim, printer.model_copy(update={"modbus": modbus}), "printer simulator"


async def bench_printer(plant: Plant, printer: Printer, seconds: float, runs: int) -> None:
    plan = plan_printer(printer)
    naive = one_request_per_signal(printer)
    best = min_requests(printer.signals, PlanLimits.of(printer.modbus))
    print(f"printer {printer.id}: {len(printer.signals)} signals")
    print(
        f"  requests per poll: coalesced {len(plan)}, one per signal {len(naive)}"
        f" -> {len(naive) / len(plan):.1f}x fewer; brute-force optimum {best}"
        f" ({'optimal' if best == len(plan) else 'NOT OPTIMAL'})"
    )
    for request in plan:
        print(f"    {request.describe():<28} {', '.join(s.name for s in request.signals)}")

    server, target, kind = await start_server(plant, printer)
    try:
        coalesced_sink, per_signal_sink = CountingSink(), CountingSink()
        coalesced = ModbusPoller(target, coalesced_sink)
        per_signal = ModbusPoller(target, per_signal_sink)
        per_signal.plan = naive
        rates: dict[str, list[float]] = {"coalesced": [], "per_signal": []}
        for _ in range(runs):  # alternate so both see the same machine state
            rates["coalesced"].append(await polls_per_second(coalesced, seconds))
            rates["per_signal"].append(await polls_per_second(per_signal, seconds))
        for poller in (coalesced, per_signal):
            poller.close()
        med = {k: statistics.median(v) for k, v in rates.items()}
        bad = coalesced_sink.bad + per_signal_sink.bad
        print(f"  polls/s against the {kind} on loopback (median of {runs} x {seconds:g} s):")
        print(
            f"    coalesced {med['coalesced']:.0f}/s, one request per signal {med['per_signal']:.0f}/s"
            f" -> {med['coalesced'] / med['per_signal']:.1f}x; bad samples {bad}"
        )
        print(
            f"    one coalesced poll costs {1000 / med['coalesced']:.2f} ms of one core (client and server"
            f" in one process) vs a poll_interval_s of {printer.modbus.poll_interval_s * 1000:g} ms"
        )
    finally:
        await server.stop()


async def main_async(args: argparse.Namespace) -> None:
    plant = load_plant(args.plant)
    for printer in plant.printers:
        await bench_printer(plant, printer, args.seconds, args.runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plant", default=None, help="plant file (default: the built-in plant)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
