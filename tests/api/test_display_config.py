"""The display's rules come from the API: /api/v1/display/config and the per-item fields of the status.

The page holds no state codes, thresholds or levels (tests/api/test_display_plant.py shows it in a browser);
these tests pin what the API tells it, against the one home of each rule.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench._display_world import LINE_STATES, Expected, live_moment, many_lines_plant
from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.models.bands import band_of
from shopfloor.models.kpi import energy_kpis
from shopfloor.models.plant import Plant
from shopfloor.models.states import (
    PRINTER_STATE_FAMILY,
    ROBOT_STATE_FAMILY,
    PrinterState,
    RobotState,
    StateFamily,
)
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import config


@pytest.fixture
def many(tmp_path: Path) -> Iterator[tuple[Plant, TestClient, Expected]]:
    plant = many_lines_plant(3, 100)
    store = DuckDBStore(tmp_path / "many.duckdb", plant.plant.id)
    notes = AnnotationStore(tmp_path / "notes.sqlite3")
    hub = LiveHub(plant)
    expected = live_moment(plant, time.time_ns(), [store, hub])
    store.flush()
    with TestClient(create_app(plant, store, live_hub=hub, annotations=notes, config=config())) as client:
        yield plant, client, expected
    notes.close()
    store.close()


def test_display_config_serves_the_rules(many: tuple[Plant, TestClient, Expected]) -> None:
    plant, client, _ = many
    body = client.get("/api/v1/display/config").json()
    assert [f["family"] for f in body["families"]] == [f.value for f in StateFamily]
    assert {r["code"]: r["family"] for r in body["printer_states"]} == {
        int(s): f.value for s, f in PRINTER_STATE_FAMILY.items()
    }
    assert {r["code"]: r["family"] for r in body["robot_states"]} == {
        int(s): f.value for s, f in ROBOT_STATE_FAMILY.items()
    }
    assert body["attainment_meter_max_pct"] == pytest.approx(100 * plant.kpi.attainment_cap)
    assert (body["green_from_pct"], body["amber_from_pct"]) == (100.0, 90.0)
    assert body["fleets"] == [{"id": "ev-robots", "low_charge_pct": 25.0}, {"id": "ev-yard", "low_charge_pct": 30.0}]


def test_the_status_carries_every_line_and_fleet_with_its_rules_applied(
    many: tuple[Plant, TestClient, Expected],
) -> None:
    plant, client, expected = many
    status = client.get("/api/v1/status").json()
    assert [p["id"] for p in status["printers"]] == ["mso-cpp-1", "mso-cpp-2", "mso-cpp-3"]
    assert sum(len(f["robots"]) for f in status["fleets"]) == 100
    for i, p in enumerate(status["printers"]):
        assert p["state"] == LINE_STATES[i] == expected.line_state[p["id"]]
        assert p["state_family"] == PRINTER_STATE_FAMILY[LINE_STATES[i]].value
        assert p["stopped"] is (LINE_STATES[i] != PrinterState.RUNNING)
        saving = energy_kpis(p["printed_m_shift"], p["energy_kwh_shift"], p["water_l_shift"], plant.baseline)
        assert p["energy_saving_pct"] == pytest.approx(saving.energy_saving_pct)
        assert p["metres_band"] == band_of(100 * p["printed_m_shift"] / p["expected_m_now"])
        assert p["metres_ahead_m"] == pytest.approx(p["printed_m_shift"] - p["expected_m_now"])
    for fleet, spec in zip(status["fleets"], plant.fleets, strict=True):
        families = Counter(ROBOT_STATE_FAMILY[RobotState(r["state"])].value for r in fleet["robots"])
        assert fleet["families"] == dict(families)
        assert fleet["faults"] == families["fault"]
        low = [r["id"] for r in fleet["robots"] if r["soc_pct"] < spec.low_charge_pct]
        assert low and [r["id"] for r in fleet["robots"] if r["low_charge"]] == low
        assert fleet["low_charge"] == len(low) and fleet["low_charge_pct"] == spec.low_charge_pct
    board = client.get("/api/v1/teams/scoreboard").json()
    for team in board["teams"]:
        for o in team["objectives"]:
            assert o["band"] == band_of(o["attainment_pct"])
