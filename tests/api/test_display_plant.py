"""The display of a plant with three lines and a hundred robots in two fleets, in a real headless Chromium.

Every line and every robot of the plant file gets its tile or cell, each with
the state the data says (and its family's colour, from the API), the fleets
their summaries; the whole display fits a 1920x1080 screen without scrolling.
Names from the plant file that hold markup are shown as text, never run.
Screenshots are kept in tests/artifacts/ as the other display tests keep theirs.
Skips as tests/api/test_display.py does without a browser.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bench._display_world import FAULT_REASON, HOSTILE, Expected, S, live_moment, many_lines_plant
from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import (
    PRINTER_STATE_FAMILY,
    PRINTER_STATE_LABELS,
    ROBOT_STATE_FAMILY,
    ROBOT_STATE_LABELS,
    PrinterState,
    Quality,
    RobotState,
)
from shopfloor.store.annotations import AnnotationStore, PlannedOrder
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import LiveServer, config
from tests.api.test_display import CHROMIUM, FLAGS, WAIT_MS, browser_or_skip

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

# Every robot cell as the page shows it: state code, family, low-charge flag, charge text, position.
CELLS = """() => Array.from(document.querySelectorAll('.robot')).map((c) => {
  const box = c.getBoundingClientRect();
  return {id: c.id.slice(6), state: c.dataset.state, family: c.dataset.family, low: c.dataset.low,
          soc: c.querySelector('.rsoc').textContent, right: box.right, bottom: box.bottom,
          font: parseFloat(getComputedStyle(c.querySelector('.rid')).fontSize)};
})"""

# Each team row's bottom against the scoreboard tile's: every team is on the screen, none cut off.
TEAMS = """() => {
  const board = document.querySelector('[data-testid="scoreboard-tile"]').getBoundingClientRect().bottom;
  return Array.from(document.querySelectorAll('.team')).map((t) => [t.getBoundingClientRect().bottom, board]);
}"""


@dataclass
class World:
    plant: Plant
    expected: Expected
    page: Any
    server: LiveServer
    hub: LiveHub


@pytest.fixture
def world_of(tmp_path: Path) -> Iterator[Any]:
    browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        stack: list[Any] = []

        def make(lines: int, robots: int, *, hostile: bool = False) -> World:
            plant = many_lines_plant(lines, robots, hostile=hostile)
            store = DuckDBStore(tmp_path / f"display-{lines}-{robots}.duckdb", plant.plant.id)
            notes = AnnotationStore(tmp_path / f"notes-{lines}-{robots}.sqlite3")
            hub = LiveHub(plant)
            expected = live_moment(plant, time.time_ns(), [store, hub])
            store.flush()
            app = create_app(
                plant,
                store,
                live_hub=hub,
                annotations=notes,
                config=config(snapshot_interval_s=0.5, kpi_snapshot_interval_s=1.0),
            )
            server = LiveServer(app).__enter__()
            stack.append((server, notes, store))
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            return World(plant, expected, page, server, hub)

        try:
            yield make
        finally:
            browser.close()
            for server, notes, store in stack:
                server.__exit__(None, None, None)
                notes.close()
                store.close()


def line_tile(pg: Any, line: str) -> Any:
    return pg.locator(f'[data-testid="printer-tile"][data-line="{line}"]')


def shown(world: World, lang: str) -> None:
    """Wait until the page shows the live data and the KPIs."""
    from playwright.sync_api import expect

    pg = world.page
    pg.goto(f"{world.server.url}/?lang={lang}")
    expect(pg.get_by_test_id("live-indicator")).to_have_attribute("data-connected", "true")
    expect(pg.locator(".robot")).to_have_count(sum(len(f.robots) for f in world.plant.fleets))
    expect(pg.get_by_test_id("team-gravure-rank")).to_have_text(re.compile(r"^\d$"))


def test_three_lines_and_a_hundred_robots_each_with_the_state_of_the_data(world_of: Any) -> None:
    from playwright.sync_api import expect

    world: World = world_of(3, 100)
    pg = world.page
    # Each line's order planned at twice what it printed this shift (live_moment: 4000 x (i + 1) m); line 1 read
    # once more ten minutes ago, so it printed in the last half hour and has an ETA. Line 1's plan names the
    # customer's colourway and the fabric (the tile shows them); the others' leave them empty.
    plan_text = {"mso-cpp-1": ("navy on ecru", "cotton twill 240 cm")}
    for i, p in enumerate(world.plant.printers):
        number, design = world.expected.line_order[p.id]
        colourway, fabric = plan_text.get(p.id, ("", ""))
        world.server.services.annotations.import_plan(
            p.id, [PlannedOrder(number, design, colourway, fabric, 8000.0 * (i + 1))], "t"
        )
    store = world.server.services.store
    ten_minutes_ago = (time.time_ns() - 600 * S, "mso-cpp-1", "printed_m_total", 4000.0, Quality.GOOD, "")
    store.write(SampleBatch.from_rows(MEASUREMENT_PRINTER, [ten_minutes_ago]))
    store.flush()
    pg.add_init_script(
        "addEventListener('shopfloor:live', (e) => { if (e.detail.type === 'kpi') window.__kpi = e.detail; })"
    )
    shown(world, "en")
    expect(pg.get_by_test_id("printer-tile")).to_have_count(3)
    for i, p in enumerate(world.plant.printers):
        # The order tile: the order number and design the API serves, metres done / ordered and what is left.
        number, code = world.expected.line_order[p.id]
        design = world.plant.design(code)
        assert number and design is not None
        order = line_tile(pg, p.id)
        expect(order.get_by_test_id("printer-order")).to_be_visible()
        expect(order.get_by_test_id("printer-order")).to_have_attribute("data-order", str(number))
        expect(order.get_by_test_id("printer-order-number")).to_have_text(f"Order {number}")
        colourway, fabric = plan_text.get(p.id, (design.colourway, ""))
        expect(order.get_by_test_id("printer-order-design")).to_have_text(
            f"{design.name} · {colourway}" + (f" · {fabric}" if fabric else "")
        )
        done = 4000 * (i + 1)
        expect(order.get_by_test_id("printer-order-metres")).to_have_text(f"{done:,} / {2 * done:,} m")
        expect(order.get_by_test_id("printer-order-remaining")).to_have_text(f"left {done:,} m")
        expect(order.get_by_test_id("printer-order-eta")).to_have_text(re.compile(r"^(ETA \d\d:\d\d|stopped: no ETA)$"))
    # The ETA the API sent, as a clock time in the plant's zone (not the browser's), read with the message it came in.
    eta = pg.evaluate(
        """() => ({ns: window.__kpi.orders['mso-cpp-1'].eta_ns,
        text: document.querySelector('[data-line="mso-cpp-1"] [data-testid="printer-order-eta"]').textContent})"""
    )
    assert eta["ns"] is not None, "line 1 printed in the last half hour"
    assert eta["text"] == "ETA " + datetime.fromtimestamp(eta["ns"] / S, world.plant.plant.tz).strftime("%H:%M")
    for p in world.plant.printers:
        state = world.expected.line_state[p.id]
        tile = line_tile(pg, p.id)
        expect(tile.get_by_test_id("printer-name")).to_have_text(p.name)
        badge = tile.get_by_test_id("printer-state")
        expect(badge).to_have_attribute("data-state", str(int(state)))
        expect(badge).to_have_attribute("data-family", PRINTER_STATE_FAMILY[state].value)
        expect(badge).to_have_text(PRINTER_STATE_LABELS[state][0])
        expect(tile.get_by_test_id("printer-metres-box")).to_have_attribute(
            "data-band", re.compile("^(green|amber|red)$")
        )
        expect(tile.get_by_test_id("printer-energy-saving")).to_have_text(re.compile(r"^saving -?\d+ %$"))
        if state == PrinterState.FAULT:
            reason = world.plant.stop_reason(FAULT_REASON)
            assert reason is not None
            expect(tile.get_by_test_id("printer-reason")).to_have_text(f"Reason: {reason.name}")

    # A robot of the second fleet pushed into a fault: its cell takes the family the state message names.
    cell = pg.get_by_test_id("robot-y05")
    target = RobotState.FAULT if world.expected.robot_state["y05"] != RobotState.FAULT else RobotState.CHARGING
    batch = SampleBatch.from_rows(
        MEASUREMENT_ROBOT, [(time.time_ns(), "y05", "state", float(target), Quality.GOOD, "")], fleet="ev-yard"
    )
    world.hub.write(batch)
    expect(cell).to_have_attribute("data-state", str(int(target)))
    expect(cell).to_have_attribute("data-family", ROBOT_STATE_FAMILY[target].value)
    world.expected.robot_state["y05"] = target  # what the cells are checked against below
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.wait_for_timeout(600)  # let the bar transitions (0.5 s CSS) settle for the picture only, not for an assertion
    pg.screenshot(path=str(ARTIFACTS / "display-3-lines-100-robots-en.png"))  # before the checks: kept if one fails
    low_pct = {r.id: f.low_charge_pct for f in world.plant.fleets for r in f.robots}
    cells = {c["id"]: c for c in pg.evaluate(CELLS)}
    assert set(cells) == set(world.expected.robot_state)  # every robot, once
    for rid, cell in cells.items():
        state = world.expected.robot_state[rid]
        soc = world.expected.robot_soc_pct[rid]
        assert cell["state"] == str(int(state)), rid
        assert cell["family"] == ROBOT_STATE_FAMILY[state].value, rid
        assert cell["low"] == ("true" if soc < low_pct[rid] else "false"), rid
        assert cell["soc"] == f"{soc:.0f} %", rid
        # the whole fleet on one 1920x1080 screen, at a size read across a room
        assert cell["right"] <= 1920 and cell["bottom"] <= 1080, f"{rid} is off the screen: {cell}"
        assert cell["font"] >= 14, f"{rid}'s id is {cell['font']} px"
    assert pg.evaluate("document.documentElement.scrollHeight") <= 1080
    teams = pg.evaluate(TEAMS)
    assert len(teams) == len(world.plant.teams) and all(bottom <= board for bottom, board in teams), teams
    expect(pg.get_by_test_id("robot-r04-state")).to_have_text(ROBOT_STATE_LABELS[world.expected.robot_state["r04"]][0])

    for fleet in world.plant.fleets:
        tile = pg.locator(f'[data-testid="fleet-tile"][data-fleet="{fleet.id}"]')
        expect(tile.get_by_test_id("fleet-name")).to_have_text(fleet.name)
        families = Counter(ROBOT_STATE_FAMILY[world.expected.robot_state[r.id]].value for r in fleet.robots)
        for family, n in families.items():
            expect(tile.get_by_test_id(f"fleet-family-{family}")).to_have_text(re.compile(rf"^{n} "))
        low = sum(1 for r in fleet.robots if world.expected.robot_soc_pct[r.id] < fleet.low_charge_pct)
        expect(tile.get_by_test_id("fleet-low-charge")).to_have_text(f"{low} low charge < {fleet.low_charge_pct:.0f} %")
        expect(tile.get_by_test_id("fleet-summary")).to_have_attribute("data-faults", str(families["fault"]))

    pg.get_by_test_id("lang-toggle").click()
    expect(line_tile(pg, "mso-cpp-2").get_by_test_id("printer-state")).to_have_text(
        PRINTER_STATE_LABELS[world.expected.line_state["mso-cpp-2"]][1]
    )
    expect(pg.get_by_test_id("fleet-low-charge").first).to_contain_text("低电量")
    design = world.plant.design(world.expected.line_order["mso-cpp-1"][1])
    assert design is not None
    expect(line_tile(pg, "mso-cpp-1").get_by_test_id("printer-order-design")).to_have_text(
        f"{design.name_zh} · navy on ecru · cotton twill 240 cm"
    )
    pg.wait_for_timeout(600)
    pg.screenshot(path=str(ARTIFACTS / "display-3-lines-100-robots-zh.png"))
    assert (ARTIFACTS / "display-3-lines-100-robots-zh.png").stat().st_size > 20_000


def test_four_lines_fit_the_screen(world_of: Any) -> None:
    from playwright.sync_api import expect

    world: World = world_of(4, 100)
    pg = world.page
    shown(world, "zh")
    expect(pg.get_by_test_id("printer-tile")).to_have_count(4)
    expect(line_tile(pg, "mso-cpp-1").get_by_test_id("printer-order-number")).to_have_text("订单 9001")
    for hidden in ("printer-order", "printer-order-head"):  # held, no order loaded: no order tile
        expect(line_tile(pg, "mso-cpp-4").get_by_test_id(hidden)).to_be_hidden()
    boxes = pg.evaluate(
        "() => Array.from(document.querySelectorAll('.tile')).map((t) => t.getBoundingClientRect().bottom)"
    )
    assert max(boxes) <= 1080, boxes
    teams = pg.evaluate(TEAMS)
    assert len(teams) == len(world.plant.teams) and all(bottom <= board for bottom, board in teams), teams
    pg.wait_for_timeout(600)
    pg.screenshot(path=str(ARTIFACTS / "display-4-lines-100-robots-zh.png"))


def test_names_from_the_plant_file_are_text_never_markup(world_of: Any) -> None:
    from playwright.sync_api import expect

    world: World = world_of(3, 100, hostile=True)
    pg = world.page
    for lang in ("en", "zh"):
        shown(world, lang)
        expect(pg.get_by_test_id("plant-name")).to_have_text(f"{HOSTILE}plant")
        expect(line_tile(pg, "mso-cpp-2").get_by_test_id("printer-name")).to_have_text(f"{HOSTILE}line")
        expect(line_tile(pg, "mso-cpp-2").get_by_test_id("printer-reason")).to_contain_text(f"{HOSTILE}reason")
        expect(
            pg.locator('[data-testid="fleet-tile"][data-fleet="ev-robots"]').get_by_test_id("fleet-name")
        ).to_have_text(f"{HOSTILE}fleet")
        expect(pg.get_by_test_id("team-gravure")).to_contain_text(f"{HOSTILE}team")
        assert pg.get_by_test_id("robot-r01").get_attribute("title", timeout=WAIT_MS).startswith(f"{HOSTILE}robot")
        # the markup was never made into an element, so its handler never ran
        assert pg.evaluate("document.querySelectorAll('img').length") == 0
        assert pg.evaluate("window.__xss") is None
