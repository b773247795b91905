"""Hourly attainment alerts over the known shift (tests/api/_board_world.py), on its simulated clock.

The shipped rule ``hourly-attainment`` raises below 80 % of an hour's target. The known shift's hours made 90 %
(06-07), 75 % (07-08), no data (08-09) and 110 % (09-10): the alert is raised when 07-08 closes, stays through the
hour without data (it cannot tell), and is cleared when 09-10 closes. The world's clock is moved forward, and the
test waits for the messages the alert service sends when it sees the new time: no wall-clock waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from shopfloor.api.app import create_app
from shopfloor.api.hourly_alerts import closed_hour_of, hourly_board, next_hour_end
from shopfloor.api.live import LiveHub
from shopfloor.api.timerange import parse_shift_key
from shopfloor.models.board import hour_edges
from shopfloor.models.plant import Plant
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api import _board_world as known
from tests.api._board_world import BoardWorld, run_until
from tests.api.conftest import config
from tests.api.test_alerts import active
from tests.fixtures.waiting import wait_until

RULE = "hourly-attainment"


@pytest.fixture
def world(plant: Plant, tmp_path: Path) -> Iterator[BoardWorld]:
    """The known shift written up to 07:59 (the first hour closed, the second running)."""
    w = BoardWorld(
        plant,
        DuckDBStore(tmp_path / "shopfloor.duckdb", plant.plant.id),
        AnnotationStore(tmp_path / "annotations.sqlite3"),
        0,
    )
    w.next_ns = w.at(5, 59)
    run_until(w, w.at(7, 59))
    yield w
    w.close()


def next_alert(live: WebSocketTestSession) -> dict[str, Any]:
    while (msg := live.receive_json())["type"] != "alert":
        pass
    return msg


def test_a_missed_hour_is_raised_when_it_closes_and_cleared_by_the_next_hour_back_on_target(
    world: BoardWorld,
) -> None:
    assert [r.attainment_below_pct for r in world.plant.alerts.rules if r.id == RULE] == [80.0]
    hub = LiveHub(world.plant, clock_ns=world.clock_ns)
    app = create_app(
        world.plant, world.store, annotations=world.annotations, config=config(), live_hub=hub, clock_ns=world.clock_ns
    )
    with TestClient(app) as client, client.websocket_connect("/api/v1/live") as live:
        services = app.state.services
        watch = services.alerts.hourly
        assert watch is not None and watch.printers == [known.PRINTER]
        wait_until(lambda: known.PRINTER in watch.facts, "06-07 judged (90 %: no alert)")
        assert watch.facts[known.PRINTER].attainment_pct == pytest.approx(90)
        assert active(client, RULE, known.PRINTER) is None

        run_until(world, world.at(8, 0, 5))  # 07-08 closed and settled (4 polls)
        raised = next_alert(live)
        alert = raised["alert"]
        assert raised["transition"] == "raised" and (alert["rule"], alert["equipment"]) == (RULE, known.PRINTER)
        assert alert["message"] == f"{known.PRINTER} made 75 % of its target in 07:00-08:00 (below 80 %)"
        assert alert["raised_ns"] >= world.at(8, 0, 4) and alert["severity"] == "warning"

        run_until(world, world.at(9, 0, 5))  # 08-09 had no readings: cannot tell, the alert stays
        wait_until(lambda: watch.facts[known.PRINTER].end_ns == world.at(9), "08-09 read")
        assert watch.facts[known.PRINTER].actual_m is None
        assert active(client, RULE, known.PRINTER)["id"] == alert["id"]  # type: ignore[index]  # None fails here

        run_until(world, world.at(10, 0, 5))  # 09-10 made 110 %
        cleared = next_alert(live)
        assert cleared["transition"] == "cleared" and cleared["alert"]["id"] == alert["id"]
        assert cleared["alert"]["cleared_ns"] >= world.at(10, 0, 4)
        # The board was read once per closed hour (06-07 to 09-10), not at every evaluation.
        assert services.boards.computations == 4
        # kept in the store too (written in a worker thread after the push, so waited for)
        kept = wait_until(
            lambda: [a for a in world.annotations.alerts(active=False, since_ns=world.at(6)) if a.cleared_ns],
            "the clearance kept",
        )
    assert [a.id for a in kept] == [alert["id"]] and not world.annotations.alerts(active=True)


def test_the_last_hour_of_a_shift_holds_until_the_next_shift_judges_or_an_hour_after_a_pause(plant: Plant) -> None:
    """Shifts back to back: the next shift's first hour replaces the verdict, like any hour's (no gap in which the
    alert would clear and be raised again). Before a pause in the calendar: an hour past the end, then it clears."""
    shift = parse_shift_key(plant, known.SHIFT)  # early, 06-14, the late shift follows at once
    hours = [
        {"start_ns": s, "end_ns": e, "target_m": 6000.0, "actual_m": 3000.0, "attainment_pct": 50.0}
        for s, e in hour_edges(shift)
    ]
    answer = {"hours": hours}
    assert closed_hour_of(plant, shift, answer, len(hours) - 1).holds_until_ns is None
    assert closed_hour_of(plant, shift, answer, 0).holds_until_ns is None
    early_only = plant.model_copy(
        update={"shift_calendar": plant.shift_calendar.model_copy(update={"shifts": plant.shift_calendar.shifts[:1]})}
    )
    last = closed_hour_of(early_only, shift, answer, len(hours) - 1)
    assert last.holds_until_ns == shift.end_ns + 3600 * 10**9
    assert closed_hour_of(early_only, shift, answer, len(hours) - 2).holds_until_ns is None
    # when the watch looks again: the next hour's end, in this shift or the next one
    assert next_hour_end(plant, shift, 0) == shift.start_ns + 2 * 3600 * 10**9
    assert next_hour_end(plant, shift, len(hours) - 1) == shift.end_ns + 3600 * 10**9  # the late shift's first
    assert next_hour_end(early_only, shift, len(hours) - 1) == shift.start_ns + 25 * 3600 * 10**9  # tomorrow's


def test_the_hourly_watch_never_takes_a_board_cached_before_the_hour_settled(world: BoardWorld) -> None:
    """A line-side screen asked for the board just before the hour settled: the watch computes it again."""
    app = create_app(world.plant, world.store, annotations=world.annotations, config=config(), clock_ns=world.clock_ns)
    services = app.state.services
    shift = parse_shift_key(world.plant, known.SHIFT)
    board_of = hourly_board(services)
    run_until(world, world.at(8, 0, 1))
    screen = board_of(known.PRINTER, shift, 0)  # what a screen's request leaves in the cache
    assert screen["hours"][1]["finished"] and services.boards.computations == 1
    assert board_of(known.PRINTER, shift, world.at(8, 0, 1)) is screen  # computed at that moment: taken
    run_until(world, world.at(8, 0, 4))
    settled = board_of(known.PRINTER, shift, world.at(8, 0, 4))
    assert settled is not screen and services.boards.computations == 2
    assert settled["range"]["end_ns"] == world.at(8, 0, 4)
