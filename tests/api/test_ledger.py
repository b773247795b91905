"""The KPI ledger over a real DuckDB store: rows of closed shifts, exactly the raw computation, kept fresh."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shopfloor.api import ledger as ledger_module
from shopfloor.api.app import create_app
from shopfloor.api.kpi_service import KpiService
from shopfloor.api.ledger import Ledger, LedgerIncomplete, compose, read_inputs
from shopfloor.models.calendar import ShiftInstance, from_ns, shift_instances, to_ns
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.kpi.report import equipment_totals
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.simulators.history import plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import config

CONFIG = KpiConfig()


@dataclasses.dataclass
class World:
    plant: Plant
    store: DuckDBStore
    annotations: AnnotationStore
    now_ns: int
    instances: list[ShiftInstance]  # the closed shifts of the history

    def ledger(self, plant: Plant | None = None) -> Ledger:
        return Ledger(plant or self.plant, self.store, self.annotations, config=CONFIG, clock_ns=lambda: self.now_ns)


@pytest.fixture
def world(plant: Plant, tmp_path: Path) -> Iterator[World]:
    """Two days of the default plant's history, written through the real store; "now" is fixed at its end."""
    import datetime as dt

    day = dt.datetime(2026, 11, 20, tzinfo=plant.tz)
    first = shift_instances(plant.shift_calendar, plant.tz, to_ns(day), to_ns(day) + 1)[0]
    start = first.start_ns - 600 * NS_PER_S
    now = first.start_ns + 2 * NS_PER_DAY + 3 * 3600 * NS_PER_S
    store = DuckDBStore(tmp_path / "shopfloor.duckdb", plant.plant.id)
    for batch in plant_history(plant, start, now).batches:
        store.write(batch)
    store.flush()
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    world = World(plant, store, notes, now, [])
    world.instances = world.ledger().closed_instances(first.start_ns, now, now)
    yield world
    notes.close()
    store.close()


def raw_totals(w: World, start_ns: int, end_ns: int) -> tuple[list[ShiftInstance], dict[str, list[object]]]:
    """One pass over the whole range from raw samples (the reference the ledger must equal)."""
    inputs = read_inputs(w.plant, w.store, w.annotations, start_ns, end_ns, CONFIG)
    t = equipment_totals(w.plant, start_ns, end_ns, inputs.series, inputs.events, CONFIG, throughput_period_s=None)
    per_equipment: dict[str, list[object]] = {**t.printers, **t.robots}  # type: ignore[dict-item]  # lists of totals
    return list(t.instances), per_equipment


def test_rows_of_closed_shifts_equal_one_raw_pass_exactly(world: World) -> None:
    ledger = world.ledger()
    assert len(world.instances) >= 6, "two days of three shifts, closed and settled"
    written = ledger.catch_up(world.instances[0].start_ns)
    assert written == len(world.instances)
    rows = {r.key: r for r in world.store.read_ledger(world.instances[0].start_ns, world.now_ns)}
    assert len(rows) == len(world.instances) * len(ledger.equipment_ids)
    instances, reference = raw_totals(world, world.instances[0].start_ns, world.instances[-1].end_ns)
    assert [i.start_ns for i in instances] == [i.start_ns for i in world.instances]
    for k, instance in enumerate(instances):
        for equipment in ledger.equipment_ids:
            row = rows[(instance.start_ns, equipment)]
            assert row.totals == reference[equipment][k], (instance.key, equipment)  # ==, not approx
            assert row.plant_version == ledger.version and row.samples_read > 0
    assert ledger.catch_up(world.instances[0].start_ns) == 0, "nothing stale: a second pass writes nothing"


def test_a_day_is_the_sum_of_its_shifts_including_their_closing_readings(world: World) -> None:
    service = KpiService(world.plant, world.store, world.annotations, clock_ns=lambda: world.now_ns)
    day = world.instances[:3]
    whole = service.compute(day[0].start_ns, day[-1].end_ns)
    parts = [service.compute(i.start_ns, i.end_ns) for i in day]
    printed = [p.printers["mso-cpp-1"].printed_m for p in parts]
    assert whole.printers["mso-cpp-1"].printed_m == printed[0] + printed[1] + printed[2]
    assert all(m > 0 for m in printed)
    fleet = world.plant.fleets[0].id
    sessions = [p.fleets[fleet].sessions_completed for p in parts]
    assert whole.fleets[fleet].sessions_completed == sessions[0] + sessions[1] + sessions[2]
    assert whole.fleets[fleet].energy_delivered_kwh == sum(p.fleets[fleet].energy_delivered_kwh for p in parts)


def test_reports_from_the_ledger_equal_reports_from_raw(world: World) -> None:
    raw_service = KpiService(world.plant, world.store, world.annotations, clock_ns=lambda: world.now_ns)
    start, end = world.instances[0].start_ns, world.now_ns
    from_raw = raw_service.compute(start, end)
    assert raw_service.last_basis is not None and raw_service.last_basis.ledger_shifts == 0
    world.ledger().catch_up(start)
    service = KpiService(world.plant, world.store, world.annotations, clock_ns=lambda: world.now_ns)
    from_ledger = service.compute(start, end)
    assert service.last_basis is not None
    assert service.last_basis.ledger_shifts == len(world.instances)
    assert service.last_basis.raw_shifts >= 1, "the running shift is computed from raw samples"
    assert from_ledger.to_dict() == from_raw.to_dict()


def test_a_correction_recomputes_the_shift_at_once_and_in_the_ledger(world: World) -> None:
    ledger = world.ledger()
    ledger.catch_up(world.instances[0].start_ns)
    shift = world.instances[1]
    service = KpiService(world.plant, world.store, world.annotations, clock_ns=lambda: world.now_ns)
    before = service.compute(shift.start_ns, shift.end_ns).printers["mso-cpp-1"]
    # the whole shift marked as planned maintenance by an operator
    code = next(r.code for r in world.plant.stop_reasons if r.code != 0)
    override = world.annotations.set_reason("mso-cpp-1", shift.start_ns, shift.end_ns, code, "alice")
    after = service.compute(shift.start_ns, shift.end_ns).printers["mso-cpp-1"]
    assert service.last_basis is not None and service.last_basis.ledger_shifts == 0, "the stale row is not used"
    assert after.pareto != before.pareto
    assert [i.key for i in ledger.stale(world.instances, _rows(world), world.now_ns)] == [shift.key]
    assert ledger.catch_up(world.instances[0].start_ns) == 1
    row = _rows(world)[(shift.start_ns, "mso-cpp-1")]
    assert row.annotation_version == override.id
    assert ledger.stale(world.instances, _rows(world), world.now_ns) == []


def test_late_samples_make_the_row_recompute(world: World) -> None:
    ledger = world.ledger()
    ledger.catch_up(world.instances[0].start_ns)
    shift = world.instances[-1]
    kept = _rows(world)[(shift.start_ns, "mso-cpp-1")]
    # a spool replays a poll the shift had missed: a timestamp between two stored ones
    series = world.store.read_series(MEASUREMENT_PRINTER, ["mso-cpp-1"], ["state"], shift.start_ns, shift.end_ns)
    ts = series["mso-cpp-1"]["state"].ts_ns
    late_ns = int(ts[len(ts) // 2]) + 1
    world.store.write(
        SampleBatch(
            MEASUREMENT_PRINTER,
            np.array([late_ns], dtype=np.int64),
            np.array(["mso-cpp-1"], dtype=object),
            np.array(["state"], dtype=object),
            np.array([float(series["mso-cpp-1"]["state"].value[len(ts) // 2])]),
            np.zeros(1, dtype=np.uint8),
            np.array([""], dtype=object),
        )
    )
    world.store.flush()
    assert [i.key for i in ledger.stale(world.instances, _rows(world), world.now_ns)] == [shift.key]
    assert ledger.catch_up(world.instances[0].start_ns) == 1
    assert _rows(world)[(shift.start_ns, "mso-cpp-1")].samples_read == kept.samples_read + 1


def test_rows_of_another_plant_file_are_used_and_named(world: World) -> None:
    world.ledger().catch_up(world.instances[0].start_ns)
    faster = world.plant.model_copy(
        update={
            "printers": [
                p.model_copy(update={"ideal_speed_m_min": p.ideal_speed_m_min + 1}) for p in world.plant.printers
            ]
        }
    )
    ledger = world.ledger(faster)
    totals, basis = compose(ledger, world.instances[0].start_ns, world.instances[-1].end_ns, world.now_ns)
    assert basis.ledger_shifts == len(world.instances)
    assert list(basis.stale_shift_keys) == [i.key for i in world.instances]
    assert len(totals.instances) == len(world.instances)
    assert ledger.catch_up(world.instances[0].start_ns) == len(world.instances), "a pass rewrites them"
    _, basis = compose(ledger, world.instances[0].start_ns, world.instances[-1].end_ns, world.now_ns)
    assert basis.stale_shift_keys == ()


def test_a_range_the_ledger_does_not_cover_is_refused_with_the_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "MAX_RAW_NS", 12 * 3600 * NS_PER_S)  # the bound, scaled to two days
    with pytest.raises(LedgerIncomplete, match=r"holds 0 of the \d+ closed shifts .* still being built"):
        compose(world.ledger(), world.instances[0].start_ns, world.now_ns, world.now_ns)
    world.ledger().catch_up(world.instances[0].start_ns)
    _, basis = compose(world.ledger(), world.instances[0].start_ns, world.now_ns, world.now_ns)
    assert basis.ledger_shifts == len(world.instances)


def _rows(w: World) -> dict[tuple[int, str], object]:
    return {r.key: r for r in w.store.read_ledger(w.instances[0].start_ns, w.now_ns)}


def test_kpi_answers_say_what_they_rest_on_and_name_stale_rows(world: World) -> None:
    world.ledger().catch_up(world.instances[0].start_ns)
    faster = world.plant.model_copy(
        update={
            "printers": [
                p.model_copy(update={"ideal_speed_m_min": p.ideal_speed_m_min + 1}) for p in world.plant.printers
            ]
        }
    )
    # No lifespan: the keeper stays off, so the rows of the earlier plant file stay as they are.
    app = create_app(faster, world.store, annotations=world.annotations, config=config(), clock_ns=lambda: world.now_ns)
    client = TestClient(app)
    params = {
        "start": from_ns(world.instances[0].start_ns, world.plant.tz).isoformat(),
        "end": from_ns(world.instances[-1].end_ns, world.plant.tz).isoformat(),
    }
    keys = [i.key for i in world.instances]
    for path in ("/api/v1/kpis", "/api/v1/teams/scoreboard", "/api/v1/savings", "/api/v1/printers/mso-cpp-1/pareto"):
        response = client.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        basis = response.json()["range"]["basis"]
        assert basis == {
            "ledger_shifts": len(keys),
            "raw_shifts": 0,
            "stale_shift_keys": keys,
            "unrecorded_equipment": [],
        }, path
    by_day = client.get("/api/v1/kpis", params=params | {"by": "day"}).json()
    assert by_day["range"]["basis"]["stale_shift_keys"] == keys


def test_an_order_event_after_a_row_was_computed_restales_it(world: World) -> None:
    """An operator's order event (made, then withdrawn) re-stales the rows of the shifts it overlaps, as a
    reason override does: one change sequence, so the row's annotation_version compares with both."""
    ledger = world.ledger()
    ledger.catch_up(world.instances[0].start_ns)
    first, shift, following = world.instances[0], world.instances[1], world.instances[2]
    kept = _rows(world)
    before = kept[(shift.start_ns, "mso-cpp-1")]
    slow = min(world.plant.designs, key=lambda d: d.ideal_speed_m_min)
    inside = shift.start_ns + 600 * NS_PER_S
    started = world.annotations.start_order("mso-cpp-1", inside, 7001, slow.code, "alice")
    assert started.id > before.annotation_version
    # an order with no end yet runs on: every shift from its start may have changed
    later = [i.key for i in world.instances[1:]]
    assert [i.key for i in ledger.stale(world.instances, _rows(world), world.now_ns)] == later
    ended = world.annotations.end_order("mso-cpp-1", shift.end_ns, "alice")
    assert ended.id == started.id + 1
    assert ledger.catch_up(first.start_ns) == len(later), "the keeper recomputes them, not the shift before"
    rows = _rows(world)
    assert rows[(first.start_ns, "mso-cpp-1")] == kept[(first.start_ns, "mso-cpp-1")]
    row = rows[(shift.start_ns, "mso-cpp-1")]
    assert row.annotation_version == ended.id
    assert row.totals.ideal_s != before.totals.ideal_s
    assert row.samples_read == before.samples_read, "the operator's boundary readings are not samples"
    assert rows[(following.start_ns, "mso-cpp-1")].totals == kept[(following.start_ns, "mso-cpp-1")].totals
    assert ledger.stale(world.instances, rows, world.now_ns) == []
    # a withdrawal is a change too: that shift goes back to the PLC's registers, and only that shift
    gone = world.annotations.withdraw_order_event("mso-cpp-1", started.id, "alice")
    assert gone.withdrawn_id is not None and gone.withdrawn_id > ended.id
    assert [i.key for i in ledger.stale(world.instances, _rows(world), world.now_ns)] == [shift.key]
    assert ledger.catch_up(first.start_ns) == 1
    assert _rows(world)[(shift.start_ns, "mso-cpp-1")].totals == before.totals


def test_an_operator_order_across_a_shift_change_keeps_the_rows_equal_to_one_raw_pass(world: World) -> None:
    """Order 7001 (the slowest design) from the middle of one shift to the middle of the next: each shift's row,
    computed alone, equals that shift inside one raw pass over both, so the rows sum exactly to the range."""
    a, b = world.instances[1], world.instances[2]
    slow = min(world.plant.designs, key=lambda d: d.ideal_speed_m_min)
    world.annotations.start_order("mso-cpp-1", (a.start_ns + a.end_ns) // 2, 7001, slow.code, "alice")
    world.annotations.end_order("mso-cpp-1", (b.start_ns + b.end_ns) // 2, "alice")
    ledger = world.ledger()
    ledger.catch_up(world.instances[0].start_ns)
    rows = _rows(world)
    instances, reference = raw_totals(world, a.start_ns, b.end_ns)
    assert [i.start_ns for i in instances] == [a.start_ns, b.start_ns]
    for k, instance in enumerate(instances):
        assert rows[(instance.start_ns, "mso-cpp-1")].totals == reference["mso-cpp-1"][k]  # ==, not approx
    # and the order changed both shifts' ideal time against the line without it
    world.annotations.withdraw_order_event(
        "mso-cpp-1", world.annotations.recent_order_events("mso-cpp-1", 2)[1].id, "alice"
    )
    _, without = raw_totals(world, a.start_ns, b.end_ns)
    assert all(without["mso-cpp-1"][k].ideal_s != reference["mso-cpp-1"][k].ideal_s for k in (0, 1))
