"""The API over data the real collectors gathered from the real simulators (not a synthetic history).

Two simulated hours ending now: the printer simulator on a manual clock, read
over Modbus TCP by the real poller every 10 simulated seconds, and the fleet
simulator read over OPC UA by the real collector (polling mode, so each read
lands at a known simulated time), both into the embedded DuckDB store. The
API then answers from that store: its figures must be the simulators' ground
truth, and schemathesis must find no request that makes it fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from shopfloor.api.app import create_app
from shopfloor.collectors.modbus.poller import ModbusPoller
from shopfloor.collectors.opcua.plan import plan_fleet, resolve_node_ids
from shopfloor.collectors.opcua.polling import FleetPoller
from shopfloor.collectors.opcua.session import close_client, open_client
from shopfloor.collectors.opcua.stats import CollectorStats
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.states import PrinterState
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.fleet.server import FleetSimulator
from shopfloor.simulators.fleet.truth import FleetTruth
from shopfloor.simulators.printer.schedule import Plan, plan_segments
from shopfloor.simulators.printer.server import PrinterSimulator
from shopfloor.simulators.printer.truth import PrinterTruth
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import ALICE, REQUEST_TIMEOUT_S, config

S = 1_000_000_000
HOURS = 2
STEP_S = 10


@dataclass
class Collected:
    plant: Plant
    store: DuckDBStore
    notes: AnnotationStore
    printer: PrinterTruth
    fleet: FleetTruth
    start_ns: int
    end_ns: int


def plant_polled_every_step() -> Plant:
    """The shipped plant, told the cadence this test polls at (the KPI gap rule counts in polls)."""
    base = load_plant()
    printer = base.printers[0]
    modbus = printer.modbus.model_copy(update={"poll_interval_s": STEP_S})
    return base.model_copy(update={"printers": [printer.model_copy(update={"modbus": modbus})]})


async def collect(plant: Plant, store: DuckDBStore, start_ns: int) -> tuple[PrinterTruth, FleetTruth]:
    clock = ManualClock(start_ns=start_ns)  # the collectors stamp with it too: the simulated time
    printer_sim = PrinterSimulator(plant, host="127.0.0.1", port=0, seed=17, clock=clock)
    fleet_sim = FleetSimulator(plant, endpoint="opc.tcp://127.0.0.1:0/shopfloor/fleet", port=0, seed=17, clock=clock)
    await printer_sim.start()
    await fleet_sim.start()
    try:
        printer = plant.printers[0]
        poller = ModbusPoller(
            printer.model_copy(update={"modbus": printer.modbus.model_copy(update={"port": printer_sim.port})}),
            store,
            clock=clock,
        )
        fleet = plant.fleets[0]
        wired = fleet.model_copy(update={"opcua": fleet.opcua.model_copy(update={"endpoint": fleet_sim.endpoint})})
        # The collector's own poll step, driven here one simulated step at a time: the same reads, decoding
        # and sink as OpcUaFleetCollector in polling mode, without its wall-clock cadence.
        client = await open_client(wired.opcua)
        try:
            plan = plan_fleet(wired)
            node_ids = resolve_node_ids(plan, await client.get_namespace_array())
            reader = FleetPoller(client, plan, wired.opcua, store, CollectorStats(), clock)
            for n in range(HOURS * 3600 // STEP_S + 1):
                if n:
                    clock.advance(STEP_S)
                    await printer_sim.wait_caught_up()
                    await fleet_sim.sync()
                assert (await poller.poll_once()).good.all()
                await reader.poll_once(node_ids)
        finally:
            await close_client(client, graceful=True, timeout_s=5)
        poller.close()
        return printer_sim.process.truth, fleet_sim.process.truth
    finally:
        await fleet_sim.stop()
        await printer_sim.stop()


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collected]:
    plant = plant_polled_every_step()
    path: Path = tmp_path_factory.mktemp("collected")
    store = DuckDBStore(path / "shopfloor.duckdb", plant.plant.id)
    end = time.time_ns() // S * S - 60 * S  # the data ends a minute ago: wholly in the API's past
    start = end - HOURS * 3600 * S
    printer, fleet = asyncio.run(collect(plant, store, start))
    store.flush()
    notes = AnnotationStore(path / "annotations.sqlite3")
    yield Collected(plant, store, notes, printer, fleet, start, end)
    notes.close()
    store.close()


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ns // S))


def test_the_api_reports_what_the_simulators_really_did(collected: Collected) -> None:
    app = create_app(
        collected.plant, collected.store, annotations=collected.notes, config=config(), kpi_config=KpiConfig()
    )
    params = {"start": iso(collected.start_ns), "end": iso(collected.end_ns + S)}
    with TestClient(app) as http:
        printer = http.get("/api/v1/equipment/mso-cpp-1/kpis", params=params).json()["total"]
        fleet = http.get("/api/v1/equipment/ev-robots/kpis", params=params).json()["total"]
        board = http.get("/api/v1/teams/scoreboard", params=params).json()
    truth = collected.printer
    assert truth.printed_m > 1000
    scale = {s.name: abs(s.scale) for s in collected.plant.printers[0].signals}
    assert printer["printed_m"] == pytest.approx(truth.printed_m, abs=2 * scale["printed_m_total"])
    assert printer["energy"]["energy_kwh"] == pytest.approx(truth.energy_kwh, abs=2 * scale["energy_kwh_total"])
    assert printer["times"]["no_data_s"] <= STEP_S  # the collectors left no hole
    completed = sum(r.sessions_completed for r in collected.fleet.robots)
    assert fleet["sessions_completed"] == completed
    assert fleet["energy_delivered_kwh"] == pytest.approx(
        sum(r.energy_delivered_kwh for r in collected.fleet.robots), abs=0.01 * len(collected.fleet.robots)
    )
    assert sorted(t["rank"] for t in board["teams"]) == list(range(1, len(collected.plant.teams) + 1))


@pytest.fixture(scope="module")
def collected_schema(collected: Collected) -> schemathesis.BaseSchema:
    app = create_app(collected.plant, collected.store, annotations=collected.notes, config=config())
    found = schemathesis.openapi.from_asgi("/openapi.json", app)
    found.config.update(request_timeout=REQUEST_TIMEOUT_S)
    return found


schema = schemathesis.pytest.from_fixture("collected_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_over_collected_data_causes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=ALICE, checks=[not_a_server_error])


def test_throughput_per_minute_and_hour_adds_up_to_what_was_printed(collected: Collected) -> None:
    app = create_app(collected.plant, collected.store, annotations=collected.notes, config=config())
    params = {"start": iso(collected.start_ns), "end": iso(collected.end_ns + S)}
    with TestClient(app) as http:
        minutes = http.get("/api/v1/printers/mso-cpp-1/throughput", params={**params, "period": "minute"}).json()
        hours = http.get("/api/v1/printers/mso-cpp-1/throughput", params={**params, "period": "hour"}).json()
        kpis = http.get("/api/v1/equipment/mso-cpp-1/kpis", params=params).json()
        too_many = http.get(
            "/api/v1/printers/mso-cpp-1/throughput",
            params={"start": iso(collected.end_ns - 20 * 86_400 * S), "end": iso(collected.end_ns), "period": "minute"},
        )
        not_a_printer = http.get("/api/v1/printers/r01/throughput", params=params)
    assert len(minutes["buckets"]) == HOURS * 60 + 1 and len(hours["buckets"]) == HOURS + 1
    scale = next(s.scale for s in collected.plant.printers[0].signals if s.name == "printed_m_total")
    for series in (minutes, hours):
        total = sum(b["printed_m"] or 0.0 for b in series["buckets"]) + series["across_gap_m"]
        assert total == pytest.approx(collected.printer.printed_m, abs=2 * scale)
        assert total == pytest.approx(kpis["total"]["printed_m"], abs=1e-6)
    # No minute faster than the line can print: the counter's wrap and the poll timing did not inflate a bucket.
    ideal = collected.plant.printers[0].ideal_speed_m_min
    assert max(b["m_per_min"] or 0.0 for b in minutes["buckets"]) <= ideal * 1.2
    assert [b["printed_m"] for b in hours["buckets"]] == pytest.approx(
        [None if v is None else pytest.approx(v) for v in kpis["hourly_printed_m"]["printed_m"]]
    )
    assert too_many.status_code == 422 and "period=hour" in too_many.json()["detail"]
    assert not_a_printer.status_code == 404


def test_the_running_order_s_progress_is_the_simulator_s_order_queue(collected: Collected) -> None:
    """The order tile's figures (GET /printers/{id}/orders/current and the live ``kpi`` message) against the
    printer simulator's ``truth.orders``: the order on the line, what it printed, what is left of it."""
    now_ns = collected.end_ns + S
    app = create_app(
        collected.plant, collected.store, annotations=collected.notes, config=config(), clock_ns=lambda: now_ns
    )
    running = collected.printer.orders[-1]
    assert running.end_ns is None and running.printed_m > 0
    url = "/api/v1/printers/mso-cpp-1/orders/current"
    plan = f"order_number,design_code,colourway,fabric,metres_ordered\n{running.order_number},{running.design_code},,,"
    app.state.services.order_progress.refresh_s = 3600.0  # no refresh by age during the test: count computations
    with TestClient(app) as http:
        # The simulator's queue knows how much each order is for; a planner tells the API through a plan.
        r = http.post(
            "/api/v1/printers/mso-cpp-1/orders/plan", json={"csv": plan + f"{running.metres_ordered}\n"}, headers=ALICE
        )
        assert r.status_code == 201, r.text
        current = http.get(url).json()["order"]
        with http.websocket_connect("/api/v1/live") as live:
            kpi = next(m for m in iter(live.receive_json, None) if m["type"] == "kpi")
        assert http.get("/api/v1/printers/r01/orders/current").status_code == 404
    # One poll interval at full speed: the metres of the poll in which the order changed go to the order loaded
    # at its start (docs/kpi.md, "Counters"); the counter's resolution twice.
    scale = next(s.scale for s in collected.plant.printers[0].signals if s.name == "printed_m_total")
    tolerance_m = collected.plant.printers[0].ideal_speed_m_min * STEP_S / 60 + 2 * scale
    assert current["order_number"] == running.order_number and current["design_code"] == running.design_code
    design = collected.plant.design(running.design_code)
    assert design is not None and current["design"]["name_zh"] == design.name_zh
    assert current["done_m"] == pytest.approx(running.printed_m, abs=tolerance_m)
    assert current["metres_ordered"] == running.metres_ordered
    assert current["remaining_m"] == pytest.approx(running.metres_ordered - running.printed_m, abs=tolerance_m)
    # Whether there is an ETA is the simulator's to say: the rate is the order's metres over its last
    # rate_window_s of loaded time, so there is one exactly when the line ran (was in no stop) in that window.
    window_start_ns = max(running.start_ns, now_ns - current["rate_window_s"] * S)
    stopped_ns = sum(
        max(0, min(stop.end_ns or now_ns, now_ns) - max(stop.start_ns, window_start_ns))
        for stop in collected.printer.stops_between(window_start_ns, now_ns)
    )
    ran_s = (now_ns - window_start_ns - stopped_ns) / S
    # Both branches always assert: the ETA, or "stopped", each only where the simulator's stops allow it (the
    # registers are read every poll, so a run within a poll of the window's start may fall either side).
    if current["eta_ns"] is not None:
        assert ran_s > 0 and current["eta_reason"] is None and current["rate_m_min"] > 0
        minutes_left = current["remaining_m"] / current["rate_m_min"]
        assert current["eta_ns"] == pytest.approx(now_ns + minutes_left * 60 * S, abs=S)
    else:
        assert ran_s <= STEP_S, f"the line ran {ran_s} s in the rate window, yet no ETA"
        assert current["eta_reason"] == "stopped"
    # The display's live message carries the same answer, from the same cache: computed once for both.
    assert kpi["orders"]["mso-cpp-1"] == current
    assert app.state.services.order_progress.computations == 1


def test_the_order_reports_are_the_simulator_s_orders(collected: Collected) -> None:
    """``GET /printers/{id}/orders`` over the collected range against the printer simulator's ``truth.orders``:
    the orders it ran, in order, the metres each printed, and each changeover counted as that order's setup
    time (AUST, docs/kpi.md "Orders")."""
    app = create_app(collected.plant, collected.store, annotations=collected.notes, config=config())
    params = {"start": iso(collected.start_ns), "end": iso(collected.end_ns + S)}
    with TestClient(app) as http:
        r = http.get("/api/v1/printers/mso-cpp-1/orders", params=params)
    assert r.status_code == 200, r.text
    reports = r.json()["orders"]
    truth = collected.printer.orders
    assert len(truth) >= 2, "two hours hold at least one changeover"
    assert [(o["order_number"], o["design_code"]) for o in reports] == [(t.order_number, t.design_code) for t in truth]
    assert [o["ongoing"] for o in reports] == [False] * (len(truth) - 1) + [True]
    # The registers are read every poll: an order shows from the first poll after it was loaded.
    assert reports[0]["start_ns"] == collected.start_ns
    for report, run in zip(reports[1:], truth[1:], strict=True):
        assert 0 <= report["start_ns"] - run.start_ns < STEP_S * S
    # Metres: as the order tile's test, one poll at the fastest design's speed and the counter's resolution twice.
    scale = next(s.scale for s in collected.plant.printers[0].signals if s.name == "printed_m_total")
    fastest = max(
        [d.ideal_speed_m_min for d in collected.plant.designs] + [collected.plant.printers[0].ideal_speed_m_min]
    )
    tolerance_m = fastest * STEP_S / 60 + 2 * scale
    for report, run in zip(reports, truth, strict=True):
        assert report["kpis"]["printed_m"] == pytest.approx(run.printed_m, abs=tolerance_m), run.order_number
        assert report["kpis"]["defective_m"] == pytest.approx(run.defective_m, abs=tolerance_m), run.order_number
    assert sum(o["kpis"]["printed_m"] for o in reports) == pytest.approx(collected.printer.printed_m, abs=2 * scale)
    # Setup: the simulator's changeover (its SETUP stop, which loads the next order) inside planned production
    # time (a planned break is planned downtime, outside every shift no time is planned) is the order's AUST,
    # to a poll at each end of each stop.
    producing = [
        (seg.start_ns, seg.end_ns)
        for seg in plan_segments(
            collected.plant.shift_calendar, collected.plant.tz, collected.start_ns, collected.end_ns + S
        )
        if seg.plan is Plan.PRODUCE
    ]
    changeovers_s = 0.0
    for report, run in zip(reports, truth, strict=True):
        end_ns = run.end_ns if run.end_ns is not None else collected.printer.now_ns
        setups = [
            (max(stop.start_ns, run.start_ns), min(stop.end_ns or end_ns, end_ns))
            for stop in collected.printer.stops_between(run.start_ns, end_ns)
            if stop.state == PrinterState.SETUP
        ]
        setup_s = sum(max(0, min(e, pe) - max(s, ps)) for s, e in setups for ps, pe in producing) / S
        assert report["kpis"]["times"]["aust_s"] == pytest.approx(setup_s, abs=2 * STEP_S * len(setups))
        changeovers_s += setup_s
    assert changeovers_s > 0, "a changeover fell inside planned production time"
