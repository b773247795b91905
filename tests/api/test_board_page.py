"""The hour-by-hour board in a real headless Chromium, over the known shift of tests/api/_board_world.py.

A real uvicorn server with a fixed clock (11:30 in the early shift of 2026-11-24). The page shows the hours
with the API's bands, the projection, and the one stop without a reason; the test sets its reason through the
touch picker (the API key typed once, kept for the session) and sees it leave the list, splits it, and comments
on an hour. Screenshots: tests/artifacts/board.png (English), board-picker.png (the picker open) and
board-zh.png. Skips like the display test when Chromium is missing (SHOPFLOOR_REQUIRE_BROWSER=1 makes that a
failure).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench._display_world import HOSTILE, shipped_raw
from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.models.plant import Plant, plant_from_dict
from tests.api import _board_world as known
from tests.api._board_world import BoardWorld, build, run_until
from tests.api.conftest import ALICE, LiveServer, config
from tests.api.test_display import CHROMIUM, FLAGS, WAIT_MS, browser_or_skip

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
KEY = "alice-secret-key-123"


@pytest.fixture
def world(plant: Plant, tmp_path: Path) -> Iterator[BoardWorld]:
    w = build(plant, tmp_path)
    yield w
    w.close()


def hostile_plant() -> Plant:
    """The shipped plant with markup in the names the board and /orders show: the plant, the first line, design
    101 and stop reason 20 (the web break the known shift's stop is given)."""
    raw = copy.deepcopy(shipped_raw())
    raw["plant"]["name"] = raw["plant"]["name_zh"] = f"{HOSTILE}plant"
    raw["printers"][0]["name"] = raw["printers"][0]["name_zh"] = f"{HOSTILE}line"
    for table, code, what in (("designs", 101, "design"), ("stop_reasons", 20, "reason")):
        [row] = [r for r in raw[table] if r["code"] == code]
        row["name"] = row["name_zh"] = f"{HOSTILE}{what}"
    return plant_from_dict(raw, "<shipped plant, hostile names>")


@pytest.fixture
def hostile_world(tmp_path: Path) -> Iterator[BoardWorld]:
    w = build(hostile_plant(), tmp_path)
    yield w
    w.close()


@pytest.fixture
def page(world: BoardWorld) -> Iterator[tuple[Any, LiveServer]]:
    yield from served(world)


@pytest.fixture
def hostile_page(hostile_world: BoardWorld) -> Iterator[tuple[Any, LiveServer]]:
    yield from served(hostile_world)


def served(world: BoardWorld) -> Iterator[tuple[Any, LiveServer]]:
    """A real server over ``world`` at its fixed clock, and a page of a headless Chromium."""
    browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    app = create_app(
        world.plant,
        world.store,
        annotations=world.annotations,
        config=config(),
        live_hub=LiveHub(world.plant, clock_ns=world.clock_ns),
        clock_ns=world.clock_ns,
    )
    with LiveServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1920, "height": 1080}), server
        finally:
            browser.close()


def test_the_board_of_a_known_shift_reasons_and_comments(page: tuple[Any, LiveServer], world: BoardWorld) -> None:
    pg, server = page
    from playwright.sync_api import expect

    pg.goto(f"{server.url}/board?lang=en")  # no printer given: the plant's first
    rows = pg.get_by_test_id("hour-row")
    expect(rows).to_have_count(8)
    expect(pg.get_by_test_id("printer-select")).to_have_value(known.PRINTER)
    expect(pg.get_by_test_id("shift-label")).to_contain_text(known.SHIFT)
    # each hour's variance coloured by the band the API sent
    for k, band in enumerate(known.EXPECTED_BAND):
        expect(rows.nth(k)).to_have_attribute("data-band", band or "")
    expect(rows.nth(0).get_by_test_id("hour-variance")).to_have_text("-600")
    expect(rows.nth(0).get_by_test_id("hour-variance")).to_have_class("num amber")
    expect(rows.nth(1).get_by_test_id("hour-variance")).to_have_class("num red")
    expect(rows.nth(2).get_by_test_id("hour-variance")).to_have_text("—")  # no data: not 0
    expect(rows.nth(5)).to_have_attribute("data-running", "true")
    expect(pg.get_by_test_id("sum-projected")).to_have_text("41,100 m")
    expect(pg.get_by_test_id("sum-projected")).to_have_class("amber")
    expect(pg.get_by_test_id("gap-note")).to_contain_text("6,000 m")

    # the stop without a reason: picked from the touch picker, grouped by category; the key asked once
    stops = pg.get_by_test_id("stop")
    expect(stops).to_have_count(1)
    expect(stops.first).to_contain_text("07:20:00–07:35:00")
    expect(stops.first).to_contain_text("No reason entered")
    stops.first.get_by_test_id("stop-pick").click()
    expect(pg.get_by_test_id("picker")).to_contain_text("Breakdowns and faults")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "board-picker.png"), full_page=True)
    pg.get_by_test_id("picker").get_by_role("button", name="Fabric web break").click()
    expect(pg.get_by_test_id("key-form")).to_be_visible()
    pg.get_by_test_id("key-input").fill(KEY)
    pg.get_by_test_id("operator-input").fill("Wang Fang")
    pg.get_by_test_id("key-save").click()
    expect(pg.get_by_test_id("stop")).to_have_count(0)
    expect(pg.get_by_test_id("no-stops")).to_have_text("Every stop has a reason")
    audit = httpx.get(f"{server.url}/api/v1/audit").json()["entries"]
    assert audit[0]["action"] == "set_reason" and audit[0]["operator"] == "Wang Fang [alice]"
    assert audit[0]["after"][0]["reason_code"] == 20

    # a comment on hour 1 (07:00-08:00): the key is not asked again
    row = rows.nth(1)
    row.get_by_test_id("comment-edit").click()
    row.get_by_test_id("comment-text").fill("web break 07:20, splice took 15 min")
    row.get_by_test_id("comment-save").click()
    expect(rows.nth(1).get_by_test_id("hour-comment")).to_have_text("web break 07:20, splice took 15 min")
    expect(pg.get_by_test_id("key-form")).to_be_hidden()
    pg.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
    assert (ARTIFACTS / "board.png").stat().st_size > 50_000

    # a supervisor splits the stop: first part web break, second part ink supply, at 07:30
    pg.get_by_test_id("all-stops").check()
    stop = pg.get_by_test_id("stop").filter(has_text="07:20:00")
    stop.get_by_test_id("stop-split").click()
    pg.get_by_test_id("split-at").fill("07:30:00")
    pg.get_by_test_id("picker").get_by_role("button", name="Fabric web break").click()
    expect(pg.get_by_test_id("picker-title")).to_contain_text("second part")
    pg.get_by_test_id("picker").get_by_role("button", name="Ink supply fault").click()
    expect(pg.get_by_test_id("picker")).to_be_hidden()
    expect(pg.get_by_test_id("stop").filter(has_text="07:20:00")).to_contain_text("Fabric web break / Ink supply fault")
    board = httpx.get(f"{server.url}/api/v1/printers/{known.PRINTER}/hour-by-hour").json()
    split = next(s for s in board["stops"] if s["start_ns"] == world.at(7, 20))
    assert [(seg["end_ns"], seg["reason_code"]) for seg in split["segments"]] == [
        (world.at(7, 30), 20),
        (world.at(7, 35), 21),
    ]

    # Chinese: the page's labels from the dictionary, reason names from the plant file
    pg.get_by_test_id("lang-toggle").click()
    expect(pg.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(pg.locator("h1")).to_contain_text("逐时生产看板")
    expect(pg.get_by_test_id("stop").filter(has_text="07:20:00")).to_contain_text("断布 / 供墨故障")
    expect(pg.get_by_test_id("shift-label")).to_contain_text("早班")
    pg.screenshot(path=str(ARTIFACTS / "board-zh.png"), full_page=True)


def test_the_display_links_to_the_board_and_errors_show(page: tuple[Any, LiveServer]) -> None:
    pg, server = page
    from playwright.sync_api import expect

    pg.goto(f"{server.url}/?lang=en")
    link = pg.get_by_test_id("board-link")
    expect(link).to_have_text("Hour by hour")
    expect(link).to_have_attribute("href", "/board?lang=en")
    link.click()
    expect(pg.get_by_test_id("hour-row")).to_have_count(8)
    # a shift the API refuses: its reason on the page, not an empty table
    pg.goto(f"{server.url}/board?lang=en&shift=2026-11-25/early")
    expect(pg.get_by_test_id("status")).to_contain_text("has not started yet")
    # a wrong key: refused, said, and asked again next time
    pg.goto(f"{server.url}/board?lang=en")
    pg.get_by_test_id("stop").first.get_by_test_id("stop-pick").click()
    pg.get_by_test_id("picker").get_by_role("button", name="Fabric web break").click()
    pg.get_by_test_id("key-input").fill("not-a-key-at-all")
    pg.get_by_test_id("key-save").click()
    expect(pg.get_by_test_id("status")).to_contain_text("not accepted")
    expect(pg.get_by_test_id("stop")).to_have_count(1)
    assert pg.evaluate("sessionStorage.getItem('shopfloor.apiKey')") is None


def test_the_board_follows_the_line_live(page: tuple[Any, LiveServer], world: BoardWorld) -> None:
    """Ten more minutes at 80 m/min: the running hour's actual grows on the page without a reload (the page
    reloads its board on the live channel's KPI snapshots)."""
    pg, server = page
    from playwright.sync_api import expect

    pg.goto(f"{server.url}/board?printer={known.PRINTER}&lang=en")
    running = pg.get_by_test_id("hour-row").nth(5)
    expect(running.locator('[data-f="actual"]')).to_have_text("2,400")
    expect(pg.get_by_test_id("live-indicator")).to_have_attribute("data-connected", "true")
    run_until(world, world.at(11, 40))
    expect(running.locator('[data-f="actual"]')).to_have_text("3,200")
    expect(pg.get_by_test_id("sum-due")).to_have_text("31,000 m")


def test_the_orders_page_starts_and_ends_an_order_with_a_key(page: tuple[Any, LiveServer], world: BoardWorld) -> None:
    """From the board to /orders: order 7001 (design 101, 120 m/min) started at 09:00 on a line whose map serves
    no order registers; the running order shows the metres printed since (6600 + 2700 + 2400 = 11 700, from the
    known shift), the board's targets from 09:00 follow the design's speed, and the order ends with the key."""
    pg, server = page
    from playwright.sync_api import expect

    pg.goto(f"{server.url}/board?lang=en")
    pg.get_by_test_id("orders-link").click()
    expect(pg.locator("h1")).to_contain_text("Print orders")
    expect(pg.get_by_test_id("run-order")).to_have_text("none")
    pg.get_by_test_id("order-number").fill("7001")
    pg.get_by_test_id("design-select").select_option("101")
    pg.get_by_test_id("start-at").fill("2026-11-24T09:00:00")
    pg.get_by_test_id("order-start").click()
    expect(pg.get_by_test_id("key-form")).to_be_visible()
    pg.get_by_test_id("key-input").fill(KEY)
    pg.get_by_test_id("operator-input").fill("Wang Fang")
    pg.get_by_test_id("key-save").click()
    expect(pg.get_by_test_id("run-order")).to_have_text("7001")
    expect(pg.get_by_test_id("run-source")).to_have_text("operator")
    expect(pg.get_by_test_id("run-metres")).to_have_text("11,700 m")
    expect(pg.get_by_test_id("order-row").filter(has_text="7001")).to_have_attribute("data-running", "true")
    audit = httpx.get(f"{server.url}/api/v1/audit").json()["entries"]
    assert audit[0]["action"] == "start_order" and audit[0]["operator"] == "Wang Fang [alice]"
    board = httpx.get(f"{server.url}/api/v1/printers/{known.PRINTER}/hour-by-hour").json()
    assert [h["target_m"] for h in board["hours"][2:4]] == [6000.0, 7200.0]  # 08-09 the line's, 09-10 the design's

    pg.get_by_test_id("order-end").click()  # now (11:30): the key is not asked again
    expect(pg.get_by_test_id("run-order")).to_have_text("none")
    expect(pg.get_by_test_id("event")).to_have_count(2)
    expect(pg.get_by_test_id("event").first).to_contain_text("Ended")
    assert httpx.get(f"{server.url}/api/v1/audit").json()["entries"][0]["action"] == "end_order"
    # the end withdrawn: the order runs again
    pg.get_by_test_id("event").first.get_by_test_id("event-withdraw").click()
    expect(pg.get_by_test_id("event").first).to_have_attribute("data-withdrawn", "true")
    expect(pg.get_by_test_id("run-order")).to_have_text("7001")
    pg.screenshot(path=str(ARTIFACTS / "orders.png"), full_page=True)
    pg.get_by_test_id("lang-toggle").click()
    expect(pg.locator("h1")).to_contain_text("印花订单")


def planned_options(pg: Any) -> list[str]:
    """The order-number field's suggestions (the plan in force, newest first), as the page wrote them."""
    return list(pg.evaluate("() => Array.from(document.querySelectorAll('#planned option'), (o) => o.textContent)"))


def test_the_orders_page_imports_a_plan_pasted_or_chosen_as_a_file(
    page: tuple[Any, LiveServer], world: BoardWorld, tmp_path: Path
) -> None:
    """Order 7001 (design 101) runs from 09:00 (11 700 m printed since, as above). A plan pasted into /orders gives
    it its metres ordered, colourway and fabric in the orders table, and the remainder; a second plan chosen as a
    file adds order 7002 to the order-number field's suggestions. The key is asked once."""
    pg, server = page
    from playwright.sync_api import expect

    started = httpx.post(
        f"{server.url}/api/v1/printers/{known.PRINTER}/orders/start",
        json={"order_number": 7001, "design_code": 101, "at": "2026-11-24T09:00:00"},
        headers=ALICE,
    )
    assert started.status_code == 201, started.text
    pg.goto(f"{server.url}/orders?lang=en")
    row = pg.get_by_test_id("order-row").filter(has_text="7001")
    expect(row.locator("td").nth(12)).to_have_text("—")  # no plan: no remainder
    assert planned_options(pg) == []

    header = "order_number,design_code,colourway,fabric,metres_ordered\n"
    pg.get_by_test_id("plan-csv").fill(header + "7001,101,navy on ecru,cotton twill,20000\n")
    pg.get_by_test_id("plan-import").click()
    pg.get_by_test_id("key-input").fill(KEY)
    pg.get_by_test_id("key-save").click()
    expect(pg.get_by_test_id("status")).to_have_text("Plan imported, orders: 1")
    cells = row.locator("td")
    expect(cells.nth(2)).to_have_text("navy on ecru")
    expect(cells.nth(3)).to_have_text("cotton twill")
    expect(cells.nth(12)).to_have_text("8,300 m")  # 20 000 ordered - 11 700 printed
    [report] = httpx.get(f"{server.url}/api/v1/printers/{known.PRINTER}/orders").json()["orders"]
    expect(cells.nth(6)).to_have_text(f"{report['kpis']['defective_m']:,.0f}")  # as served, not recomputed
    design = world.plant.design(101)
    assert design is not None
    assert planned_options(pg) == [f"7001 · 101 {design.name} · {design.colourway} · 20,000 m"]

    # The file chooser: the file's text goes into the field, then the same import (the key is not asked again).
    chosen = tmp_path / "plan.csv"
    chosen.write_text(header + "7002,102,indigo,viscose,5000\n", encoding="utf-8")
    pg.get_by_test_id("plan-file").set_input_files(str(chosen))
    expect(pg.get_by_test_id("plan-csv")).to_have_value(chosen.read_text(encoding="utf-8"))
    pg.get_by_test_id("plan-import").click()
    expect(pg.get_by_test_id("key-form")).to_be_hidden()
    expect(pg.locator("#planned option")).to_have_count(2)
    newest = planned_options(pg)[0]
    assert newest.startswith("7002 · 102 ") and newest.endswith(" · 5,000 m"), newest
    audit = httpx.get(f"{server.url}/api/v1/audit", params={"limit": 2}).json()["entries"]
    assert [e["action"] for e in audit] == ["import_plan", "import_plan"]
    assert [o["order_number"] for e in audit for o in e["after"]] == [7002, 7001]


def test_names_from_the_plant_file_are_text_never_markup_on_the_board_and_orders(
    hostile_page: tuple[Any, LiveServer], hostile_world: BoardWorld
) -> None:
    """Markup in the plant's, the line's, a design's and a stop reason's names, as the display's test
    (tests/api/test_display_plant.py): /board and /orders show it as text, in both languages, and never run it."""
    pg, server = hostile_page
    from playwright.sync_api import expect

    started = httpx.post(
        f"{server.url}/api/v1/printers/{known.PRINTER}/orders/start",
        json={"order_number": 7001, "design_code": 101, "at": "2026-11-24T09:00:00"},
        headers=ALICE,
    )
    assert started.status_code == 201, started.text
    pg.goto(f"{server.url}/board?lang=en")
    # the reason picker's buttons, and the stop given that reason
    pg.get_by_test_id("stop").first.get_by_test_id("stop-pick").click()
    pg.get_by_test_id("picker").get_by_role("button", name=f"{HOSTILE}reason").click()
    pg.get_by_test_id("key-input").fill(KEY)
    pg.get_by_test_id("key-save").click()
    expect(pg.get_by_test_id("stop")).to_have_count(0)
    for lang in ("en", "zh"):
        pg.goto(f"{server.url}/board?lang={lang}")
        expect(pg.get_by_test_id("plant-name")).to_have_text(f"{HOSTILE}plant")
        expect(pg.get_by_test_id("printer-select").locator("option").first).to_have_text(f"{HOSTILE}line")
        pg.get_by_test_id("all-stops").check()
        expect(pg.get_by_test_id("stop").filter(has_text="07:20:00")).to_contain_text(f"{HOSTILE}reason")
        pg.goto(f"{server.url}/orders?lang={lang}")
        expect(pg.get_by_test_id("plant-name")).to_have_text(f"{HOSTILE}plant")
        expect(pg.get_by_test_id("printer-select").locator("option").first).to_have_text(f"{HOSTILE}line")
        expect(pg.get_by_test_id("run-design")).to_contain_text(f"{HOSTILE}design")
        expect(pg.get_by_test_id("order-row").filter(has_text="7001")).to_contain_text(f"{HOSTILE}design")
        expect(pg.get_by_test_id("event").first).to_contain_text(f"{HOSTILE}design")
        expect(pg.get_by_test_id("design-select").locator('option[value="101"]')).to_have_text(
            re.compile(re.escape(f"{HOSTILE}design"))
        )
        # the markup was never made into an element, so its handler never ran
        assert pg.evaluate("document.querySelectorAll('img').length") == 0
        assert pg.evaluate("window.__xss") is None
