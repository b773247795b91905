"""The tracking page in a real headless Chromium: a team's months of 2026 charted, October's Pareto, both languages.

Over a month of ledger (tests/api/_tracking_world.py) served by a real uvicorn server (the ledger keeper
running, as in production). The page says when its charts are drawn: every ECharts instance reports
"finished" and the page sets ``data-charts-ready`` on <body> (tracking.js); the test waits for that, then
reads each chart's canvas back and counts the pixels drawn on it. The screenshot is
tests/artifacts/tracking.png. Skips like the display test when Chromium is missing (SHOPFLOOR_REQUIRE_BROWSER=1
makes that a failure).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.models.plant import load_plant
from tests.api._tracking_world import TrackingWorld, build
from tests.api.conftest import LiveServer, config
from tests.api.test_display import CHROMIUM, FLAGS, WAIT_MS, browser_or_skip

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "tracking.png"
CHARTS = ("chart-score", "chart-rank", "chart-pareto", "chart-savings")

# Pixels of a chart's canvas that differ from the first one (the background): axes, labels, lines, bars.
DRAWN_PIXELS = """(testId) => {
  const canvas = document.querySelector(`[data-testid="${testId}"] canvas`);
  if (!canvas) return -1;
  const {width, height} = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let drawn = 0;
  for (let i = 4; i < data.length; i += 4) {
    if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2] || data[i + 3] !== data[3]) drawn++;
  }
  return drawn;
}"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingWorld]:
    w = build(load_plant(), tmp_path_factory.mktemp("tracking-page"))
    yield w
    w.close()


@pytest.fixture
def page(world: TrackingWorld) -> Iterator[tuple[Any, LiveServer]]:
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
            yield browser.new_page(viewport={"width": 1600, "height": 1300}), server
        finally:
            browser.close()


def charts_drawn(pg: Any) -> dict[str, int]:
    return {chart: pg.evaluate(DRAWN_PIXELS, chart) for chart in CHARTS}


def test_the_page_charts_a_team_month_by_month(page: tuple[Any, LiveServer], world: TrackingWorld) -> None:
    pg, server = page
    from playwright.sync_api import expect

    pg.goto(f"{server.url}/tracking?team=crew-a&period=month&year=2026&lang=en")
    body = pg.locator("body")
    expect(body).to_have_attribute("data-charts-ready", "true")
    drawn = charts_drawn(pg)
    # lines and bars on three; November's Pareto (the pick, running, nothing stored) has its axes only
    assert min(drawn["chart-score"], drawn["chart-rank"], drawn["chart-savings"]) > 5000, drawn
    assert drawn["chart-pareto"] > 500, drawn
    sheet = pg.get_by_test_id("objectives-sheet")
    # one row per objective and month: January to the running November
    expect(sheet.locator("tbody tr")).to_have_count(11 * len(world.plant.team("crew-a").objectives))
    expect(sheet.locator('tbody tr[data-period="2026-10"]').first).to_contain_text("Printed metres")
    expect(pg.get_by_test_id("period-pick")).to_have_value("2026-11")
    expect(pg.get_by_test_id("team-select")).to_have_value("crew-a")
    expect(pg.get_by_test_id("csv-link")).to_have_attribute(
        "href", "/api/v1/tracking/teams/crew-a.csv?period=month&year=2026"
    )

    # October's Pareto: picked from the list, the page draws again and says so
    render = body.get_attribute("data-render")
    pg.get_by_test_id("period-pick").select_option("2026-10")
    expect(body).not_to_have_attribute("data-render", render or "")
    expect(body).to_have_attribute("data-charts-ready", "true")
    expect(pg.get_by_test_id("pareto-period")).to_have_text("2026-10")
    assert charts_drawn(pg)["chart-pareto"] > drawn["chart-pareto"] + 5000, "October's bars, where November has none"
    expect(pg.get_by_test_id("savings-total")).to_contain_text("kWh")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACT), full_page=True)
    assert ARTIFACT.stat().st_size > 50_000

    # Chinese: the page's labels from the dictionary, the team's name from the plant file
    pg.get_by_test_id("lang-toggle").click()
    expect(pg.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(pg.get_by_test_id("objectives-sheet")).to_contain_text("达成率")
    expect(pg.get_by_test_id("objectives-sheet")).to_contain_text("印花米数")
    expect(pg.get_by_test_id("team-select").locator("option:checked")).to_have_text(world.plant.team("crew-a").name_zh)
    expect(body).to_have_attribute("data-charts-ready", "true")
    assert "lang=zh" in pg.url


def test_the_days_of_a_month_and_the_link_from_the_display(page: tuple[Any, LiveServer]) -> None:
    pg, server = page
    from playwright.sync_api import expect

    pg.goto(f"{server.url}/?lang=en")
    link = pg.get_by_test_id("tracking-link")
    expect(link).to_have_text("Team tracking")
    expect(link).to_have_attribute("href", "/tracking?lang=en")
    link.click()
    body = pg.locator("body")
    expect(body).to_have_attribute("data-charts-ready", "true")
    # the days of October for the equipment team: 31 points on the score chart
    pg.get_by_test_id("period-select").select_option("day")
    pg.get_by_test_id("month-input").fill("2026-10")
    pg.get_by_test_id("month-input").dispatch_event("change")
    expect(pg.get_by_test_id("period-pick").locator("option")).to_have_count(31)
    expect(body).to_have_attribute("data-charts-ready", "true")
    assert re.search(r"period=day.*month=2026-10", pg.url)
    assert all(n > 5000 for n in charts_drawn(pg).values())  # October 31: a day with downtime
    # a request the API refuses shows its reason, not an empty page
    pg.goto(f"{server.url}/tracking?team=gravure&period=month&year=2027&lang=en")
    expect(pg.get_by_test_id("status")).to_contain_text("2027 has not started yet")
