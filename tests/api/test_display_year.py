"""The display's year-to-date row in a real headless Chromium, over a year of ledger rows (tests/api/_year.py).

The figures on the page are the API's, formatted: metres this year against the annual target (the bar and its
pro-rata marker where the API puts them), energy, water and money saved and CO2 avoided; the history
indicator follows a back-fill while it runs. Skips as tests/api/test_display.py does without a browser.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shopfloor.api.app import create_app
from shopfloor.api.backfill import BackfillProgress, BackfillState
from shopfloor.models.plant import Plant
from tests.api._year import Year, year_world
from tests.api.conftest import LiveServer, config
from tests.api.test_display import CHROMIUM, FLAGS, WAIT_MS, browser_or_skip

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "display-year.png"


@pytest.fixture
def world(plant: Plant, tmp_path: Path) -> Iterator[tuple[Year, BackfillProgress, Any, LiveServer]]:
    browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with year_world(plant, tmp_path) as year:
        year.store.write_ledger(year.restamp(dt.date(2026, 1, 1), dt.date(2026, 3, 9)))
        progress = BackfillProgress()
        app = create_app(
            plant, year.store, annotations=year.notes, config=config(), clock_ns=lambda: year.now_ns, backfill=progress
        )
        with LiveServer(app) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                yield year, progress, browser.new_page(viewport={"width": 1920, "height": 1080}), server
            finally:
                browser.close()


def grouped(value: float, digits: int = 0) -> str:
    """As the page formats in English (en-GB): thousands separated by commas."""
    return f"{value:,.{digits}f}"


def test_the_year_to_date_row_shows_the_apis_figures(world: tuple[Year, BackfillProgress, Any, LiveServer]) -> None:
    from playwright.sync_api import expect

    _, progress, pg, server = world
    progress.begin("simulated history", dt.date(2025, 3, 10), dt.date(2026, 3, 10), 366, 0)
    for _ in range(230):
        progress.day_done(39, 0)
    pg.goto(f"{server.url}/?lang=en")
    body = pg.request.get(f"{server.url}/api/v1/year-to-date").json()
    figures = body["plant"]
    expect(pg.get_by_test_id("ytd-metres")).to_have_text(grouped(figures["printed_m"]))
    expect(pg.get_by_test_id("ytd-target")).to_have_text("28,000,000")
    expect(pg.get_by_test_id("ytd-year")).to_have_text("2026")
    expect(pg.get_by_test_id("ytd-energy-saved")).to_have_text(grouped(figures["energy_saving_kwh"] / 1000, 1))
    expect(pg.get_by_test_id("ytd-water-saved")).to_have_text(grouped(figures["water_saving_l"] / 1000))
    expect(pg.get_by_test_id("ytd-money-saved")).to_have_text(grouped(figures["money_saving"]))
    expect(pg.get_by_test_id("ytd-co2-avoided")).to_have_text(grouped(figures["co2_avoided_kg"] / 1000, 1))
    expect(pg.get_by_test_id("ytd-metres-box")).to_have_attribute("data-band", figures["band"])
    marker = pg.get_by_test_id("ytd-expected").evaluate("el => parseFloat(el.style.left)")
    assert marker == pytest.approx(figures["expected_pct"], abs=0.01)
    bar = pg.get_by_test_id("ytd-bar").evaluate("el => parseFloat(el.style.width)")
    assert bar == pytest.approx(figures["attainment_pct"], abs=0.01)
    expect(pg.get_by_test_id("ytd-pace")).to_contain_text("of the pro-rata target")
    expect(pg.get_by_test_id("ytd-note")).to_have_text("")  # from the year's start: nothing to add
    expect(pg.get_by_test_id("backfill")).to_have_text("history: 63 % (230/366 days)")

    pg.get_by_test_id("lang-toggle").click()
    expect(pg.get_by_test_id("ytd-tile")).to_contain_text("本年印花米数")
    expect(pg.get_by_test_id("backfill")).to_have_text("历史数据：63 %（230/366 天）")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    pg.wait_for_timeout(600)  # the bar's 0.5 s transition, for the picture only
    pg.screenshot(path=str(ARTIFACT))
    assert ARTIFACT.stat().st_size > 20_000

    progress.end(BackfillState.DONE)
    expect(pg.get_by_test_id("backfill")).to_be_hidden()
