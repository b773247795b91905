"""The plant's past at full speed: the process models read as the collectors would have, and the KPI core on it.

Every check is against the models themselves (their values and ground truth), not against numbers copied from
a run: the samples are what a collector would have stored of the model, and the KPIs computed from them
are the model's truth to the registers' resolution.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import reduce

import numpy as np
import pytest

from shopfloor.models.calendar import to_ns
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.kpi.context import report_context
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.report import equipment_totals
from shopfloor.models.plant import ModbusSignal, Plant, load_plant
from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.simulators.past import (
    COARSE,
    FINE,
    PastPlant,
    Recorded,
    RecordingWindow,
    Resolution,
    as_collected,
    coarse_max_gap_polls,
)

PLANT = load_plant()
PRINTER = PLANT.printers[0].id
FLEET = PLANT.fleets[0].id
H = 3600 * NS_PER_S
DAY_START = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=PLANT.tz))  # the early shift: a production day starts


def joined(parts: list[Recorded]) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    window = RecordingWindow()
    for part in parts:
        window.add(part)
    return {
        e: {f: (s.ts_ns.tolist(), s.value.tolist()) for f, s in fields.items()} for e, fields in window.series().items()
    }


def test_the_printer_is_polled_as_its_registers_carry_the_model() -> None:
    past = PastPlant(PLANT, DAY_START, seed=3, max_gap_polls=PLANT.kpi.max_gap_polls)
    recorded = past.advance(DAY_START + 2 * H)
    fields = recorded.printers[PRINTER]
    printed = fields["printed_m_total"]
    # Polled every 0.5 s, the model changes every 1 s: one sample a step is what the gap rule needs (1.5 s).
    assert np.all(np.diff(printed.ts_ns) == NS_PER_S) and printed.ts_ns[0] == DAY_START
    assert len(printed.ts_ns) == 7200
    assert np.allclose(printed.value * 10, np.round(printed.value * 10), atol=1e-6), "0.1 m resolution"
    energy = fields["energy_kwh_total"].value
    assert np.allclose(energy * 1000, np.round(energy * 1000), atol=1e-6), "Wh resolution"
    model = past.printer_model(PRINTER)
    # The last sample is the model after its last step before the end, rounded to the register.
    assert abs(printed.value[-1] - model.truth.printed_m) < 80.0 / 60 + 0.05
    assert set(np.unique(fields["state"].value)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}
    assert "dryer_1_temp_c" in fields and "power_kw" in fields


def test_robots_are_reported_by_exception() -> None:
    past = PastPlant(PLANT, DAY_START, seed=3, max_gap_polls=PLANT.kpi.max_gap_polls)
    recorded = past.advance(DAY_START + 6 * H)
    fleet = past.fleet_model(FLEET)
    for robot in PLANT.fleets[0].robots:
        fields = recorded.robots[robot.id]
        for name, s in fields.items():
            assert s.ts_ns[0] == DAY_START, (robot.id, name)  # every variable at the start
            assert np.all(s.value[1:] != s.value[:-1]), (robot.id, name)  # then only changes
        assert fields["sessions_completed_total"].value[-1] == fleet.truth.robot(robot.id).sessions_completed
        assert fields["state"].value[-1] == float(fleet.robot(robot.id).state)
    assert recorded.fleet_of == {r.id: FLEET for r in PLANT.fleets[0].robots}
    assert sum(len(s.ts_ns) for s in recorded.robots["r01"].values()) < 6 * 3600 // 5 * 9 / 2, "changes only"


@pytest.mark.parametrize("resolution", [FINE, COARSE], ids=["fine", "coarse"])
def test_cutting_the_span_into_pieces_changes_nothing(resolution: Resolution) -> None:
    gap = PLANT.kpi.max_gap_polls
    whole = PastPlant(PLANT, DAY_START, seed=5, max_gap_polls=gap, resolution=resolution)
    pieces = PastPlant(PLANT, DAY_START, seed=5, max_gap_polls=gap, resolution=resolution)
    cuts = [DAY_START + round(x * H) for x in (0.3, 1.0, 1.7, 3.0)]
    assert joined([whole.advance(cuts[-1])]) == joined([pieces.advance(t) for t in cuts])


def test_the_same_seed_gives_the_same_past_and_another_seed_another() -> None:
    gap = PLANT.kpi.max_gap_polls
    one, two, other = (PastPlant(PLANT, DAY_START, seed=s, max_gap_polls=gap) for s in (8, 8, 9))
    a, b, c = (p.advance(DAY_START + H) for p in (one, two, other))
    assert joined([a]) == joined([b])
    assert joined([a]) != joined([c])


def day_totals(
    plant: Plant, recorded: dict[str, dict[str, Series]], config: KpiConfig, start_ns: int, end_ns: int
) -> tuple[PrinterTotals, FleetTotals]:
    series = report_context(plant, recorded, start_ns, end_ns, config)
    t = equipment_totals(plant, start_ns, end_ns, series, (), config, throughput_period_s=None)
    printer = reduce(lambda a, b: a + b, t.printers[PRINTER], PrinterTotals())
    fleet = reduce(lambda a, b: a + b, (x for shifts in t.robots.values() for x in shifts), FleetTotals())
    return printer, fleet


@pytest.mark.parametrize("resolution", [FINE, COARSE], ids=["fine", "coarse"])
def test_the_kpis_of_a_simulated_day_are_the_models_truth(resolution: Resolution) -> None:
    config = KpiConfig.of(PLANT)
    if resolution is COARSE:
        config = dataclasses.replace(
            config, max_gap_polls=coarse_max_gap_polls(PLANT, config.max_gap_polls, resolution.printer_step_s)
        )
    past = PastPlant(PLANT, DAY_START, seed=4, max_gap_polls=config.max_gap_polls, resolution=resolution)
    day = past.advance(DAY_START + NS_PER_DAY)
    model = past.printer_model(PRINTER)
    truth_printed, truth_energy = model.truth.printed_m, model.truth.energy_kwh  # at the day's end
    truth_running_s = model.truth.state_seconds()[PrinterState.RUNNING]
    fleet = past.fleet_model(FLEET)
    truth_sessions = sum(r.sessions_completed for r in fleet.truth.robots)
    rest = past.advance(DAY_START + NS_PER_DAY + 2 * H)  # the closing readings and the robots' response horizon
    window = RecordingWindow()
    window.add(day)
    window.add(rest)
    printer, robots = day_totals(PLANT, window.series(), config, DAY_START, DAY_START + NS_PER_DAY)
    assert printer.printed_m == pytest.approx(truth_printed, abs=0.1)  # the register's resolution
    assert printer.energy_kwh == pytest.approx(truth_energy, abs=0.001)
    assert printer.times.no_data_s == 0.0, "every read within the gap rule"
    # Running time (micro-stops are inside APT) as the model ran, to one step: states change on its steps.
    assert printer.times.apt_s - printer.times.micro_stop_s == pytest.approx(
        truth_running_s, abs=resolution.printer_step_s
    )
    assert printer.downtime_s_by_reason, "stops with reasons: a Pareto to show"
    assert robots.sessions_completed == pytest.approx(truth_sessions, abs=len(fleet.robots))
    assert robots.no_data_s == 0.0 and robots.response_s


def test_a_coarse_past_is_read_once_a_step_only_where_the_gap_rule_allows_it() -> None:
    config = KpiConfig.of(PLANT)
    told = coarse_max_gap_polls(PLANT, config.max_gap_polls, COARSE.printer_step_s)
    assert told == 3.0 * 10.0 / 0.5  # as many missed reads of 10 s as of the plant's 0.5 s polls
    once_a_step = PastPlant(PLANT, DAY_START, seed=4, max_gap_polls=told, resolution=COARSE)
    ts = once_a_step.advance(DAY_START + H).printers[PRINTER]["state"].ts_ns
    assert np.all(np.diff(ts) == 10 * NS_PER_S)
    # Against the plant's own rule (3 polls of 0.5 s) a read every 10 s would be a gap: it is polled instead.
    polled = PastPlant(PLANT, DAY_START, seed=4, max_gap_polls=config.max_gap_polls, resolution=COARSE)
    recorded = polled.advance(DAY_START + 9 * H)
    assert np.all(np.diff(recorded.printers[PRINTER]["state"].ts_ns) == NS_PER_S // 2)
    printer, _ = day_totals(PLANT, recorded.series, config, DAY_START, DAY_START + 8 * H)
    assert printer.times.no_data_s == 0.0


def test_the_poll_grid_follows_the_plant_file() -> None:
    printer = PLANT.printers[0]
    slow = printer.model_copy(update={"modbus": printer.modbus.model_copy(update={"poll_interval_s": 2.0})})
    recorded = PastPlant(PLANT.model_copy(update={"printers": [slow]}), DAY_START, seed=1, max_gap_polls=3.0)
    ts = recorded.advance(DAY_START + 60 * NS_PER_S).printers[PRINTER]["state"].ts_ns
    assert np.all(np.diff(ts) == 2 * NS_PER_S) and len(ts) == 30  # polled every 2 s
    # A gap rule stricter than one model step: every poll is kept, repeating the step's values.
    strict = PastPlant(PLANT, DAY_START, seed=1, max_gap_polls=1.0)
    fields = strict.advance(DAY_START + 60 * NS_PER_S).printers[PRINTER]
    assert np.all(np.diff(fields["state"].ts_ns) == NS_PER_S // 2) and len(fields["state"].ts_ns) == 120
    printed = fields["printed_m_total"].value
    assert np.all(printed[0::2] == printed[1::2]), "two polls of one step read the same registers"


def test_the_window_gives_what_a_read_in_context_gives() -> None:
    config = KpiConfig.of(PLANT)
    past = PastPlant(PLANT, DAY_START, seed=6, max_gap_polls=config.max_gap_polls)
    parts = [past.advance(DAY_START + k * 4 * H) for k in range(1, 6)]
    window = RecordingWindow()
    for part in parts:
        window.add(part)
    full = window.series()
    window.forget_before(DAY_START + 12 * H)  # the first three parts go; their last samples stay
    start, end = DAY_START + 14 * H, DAY_START + 16 * H
    kept = report_context(PLANT, window.series(), start, end, config)
    reference = report_context(PLANT, full, start, end, config)
    for equipment, fields in reference.items():
        for name, s in fields.items():
            assert kept[equipment][name].ts_ns.tolist() == s.ts_ns.tolist(), (equipment, name)
            assert kept[equipment][name].value.tolist() == s.value.tolist(), (equipment, name)
    with pytest.raises(ValueError, match="recordings must be consecutive"):
        window.add(parts[0])
    with pytest.raises(ValueError, match="the past is simulated up to"):
        past.advance(DAY_START)


def test_values_as_the_collector_decodes_them() -> None:
    def signal(**kw: object) -> ModbusSignal:
        return ModbusSignal.model_validate({"name": "x", "register": "holding", "address": 0, **kw})

    wrap = signal(type="uint16", counter=True)
    assert as_collected(wrap, np.array([65_535.0, 65_536.0, 65_541.4])).tolist() == [65_535.0, 0.0, 5.0]
    tenths = signal(type="uint32", scale=0.1, counter=True)
    assert as_collected(tenths, np.array([1234.56])).tolist() == [12346 * 0.1]
    clamped = signal(type="int16", scale=0.1)
    assert as_collected(clamped, np.array([5000.0, -5000.0])).tolist() == [32767 * 0.1, -32768 * 0.1]
    single = signal(type="float32")
    assert as_collected(single, np.array([0.1])).tolist() == [float(np.float32(0.1))]
    flag = ModbusSignal.model_validate({"name": "x", "register": "coil", "address": 0, "type": "bool"})
    assert as_collected(flag, np.array([0.0, 2.0])).tolist() == [0.0, 1.0]
