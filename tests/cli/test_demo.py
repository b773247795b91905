"""``shopfloor demo`` — the README's first command — as a person runs it.

A real process: simulators on loopback ports, the collectors reading them
over Modbus TCP and OPC UA, the embedded DuckDB store, the API. The test reads
the URLs the command prints, waits (on the API's answers, with deadlines)
until every printer and robot is live, uses the operator key the demo wrote,
stops it with Ctrl-C and finds the samples kept in the store file.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.plant import Design, Plant, load_plant
from shopfloor.models.plant.loading import DEFAULT_PLANT_RESOURCE
from shopfloor.simulators.printer.process import FIRST_ORDER_NUMBER
from shopfloor.store.duckdb_store import DuckDBStore
from tests.cli._process import Command

DEADLINE_S = 60.0
LINE_1, LINE_2 = "mso-cpp-1", "mso-cpp-2"
HOUR_NS = 3600 * 1_000_000_000


def poll(fetch: Callable[[], Any], what: str, timeout_s: float = DEADLINE_S) -> Any:
    """Ask the running system until it answers truthily: the condition is on its output, bounded in time."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fetch()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


def iso_ns(text: str) -> int:
    """Epoch ns of an ISO 8601 time with offset, as the API prints them (microsecond precision)."""
    stamp = dt.datetime.fromisoformat(text)
    return (stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 1000


def test_demo_serves_a_live_plant_and_keeps_what_it_collected(tmp_path: Path) -> None:
    plant = load_plant()
    robots = {r.id for f in plant.fleets for r in f.robots}
    data_dir = tmp_path / "data"
    demo = Command("demo", "--port", "0", "--data-dir", str(data_dir), cwd=tmp_path, env={"SHOPFLOOR_API_KEYS": ""})
    try:
        url = demo.wait_for_line(r"^display\s+(http://127\.0\.0\.1:\d+/)$").group(1)
        endpoints = [line for line in demo.stdout_lines if line.startswith("simulator")]
        assert any("modbus-tcp://127.0.0.1:" in e for e in endpoints), endpoints
        assert any("opc.tcp://127.0.0.1:" in e for e in endpoints), endpoints
        # printed before the display line, so already read
        key_line = next(line for line in demo.stdout_lines if line.startswith("operator key"))
        key_file = Path(key_line.rsplit(" is in ", 1)[1])
        assert key_file.parent == data_dir.resolve()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()

        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/health").status_code == 200
            assert "<html" in http.get("/").text

            def live_status() -> dict[str, Any] | None:
                status = http.get("/api/v1/status").json()
                printer = status["printers"][0]
                fleet = status["fleets"][0]
                live = (
                    printer["state"] is not None
                    and printer["link"]["connected"]
                    and fleet["link"]["connected"]
                    and {r["id"] for r in fleet["robots"] if r["state"] is not None} == robots
                )
                return status if live else None

            status = poll(live_status, "the printer and all robots to be live")
            assert status["printers"][0]["speed_setpoint_m_min"] is not None
            board = poll(lambda: http.get("/api/v1/teams/scoreboard").json(), "the scoreboard")
            assert sorted(t["rank"] for t in board["teams"]) == list(range(1, len(plant.teams) + 1))

            note = {"equipment": plant.printers[0].id, "text": "demo smoke test"}
            assert http.post("/api/v1/notes", json=note).status_code == 401
            assert http.post("/api/v1/notes", json=note, headers={"X-API-Key": key}).status_code == 201
        output = "\n".join(demo.stdout_lines + demo.stderr_lines)
        assert key not in output, "the operator key must not be printed or logged"
    finally:
        code = demo.interrupt()
    assert code == 0, demo.describe()

    # The store file outlives the process: what the demo collected is there to read.
    store = DuckDBStore(data_dir / "shopfloor.duckdb", plant.plant.id, read_only=True)
    try:
        printer = store.latest(MEASUREMENT_PRINTER, [plant.printers[0].id])[plant.printers[0].id]
        robot_latest = store.latest(MEASUREMENT_ROBOT, sorted(robots))
        assert "printed_m_total" in printer and "state" in printer
        assert {r for r, fields in robot_latest.items() if "state" in fields} == robots
    finally:
        store.close()


def test_demo_refuses_a_taken_port_clearly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        demo = Command("demo", "--port", str(port), "--data-dir", str(tmp_path), cwd=tmp_path)
        try:
            code = demo.proc.wait(timeout=DEADLINE_S)
        finally:
            demo.kill()
        demo.interrupt()
    assert code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in "\n".join(demo.stderr_lines), demo.describe()
    assert "--port" in "\n".join(demo.stderr_lines)


def two_line_plant_file(folder: Path) -> Path:
    """The built-in plant with a second printing line beside the first (the same fleet, designs, shifts, teams and
    alert rules): ``shopfloor demo --plant FILE`` runs one simulator per line on ports of its own choosing."""
    text = importlib.resources.files("shopfloor.models.plants").joinpath(DEFAULT_PLANT_RESOURCE).read_text("utf-8")
    a = text.index("[[printers]]")
    b = text.index("# ---------------------------------------------------------------- charging robots", a)
    line_1 = text[a:b]
    assert line_1.count(f'id = "{LINE_1}"') == 1 and line_1.count("1号线") == 1
    line_2 = (
        line_1.replace(f'id = "{LINE_1}"', f'id = "{LINE_2}"').replace("line 1", "line 2").replace("1号线", "2号线")
    )
    path = folder / "two-lines.toml"
    path.write_text(text[:b] + line_2 + text[b:], encoding="utf-8")
    return path


def test_a_time_scaled_demo_runs_the_whole_system_on_simulated_time(tmp_path: Path) -> None:
    """At 60x a shift passes in 8 minutes; rates stay true because collectors and API share the simulated clock.

    The plant is the built-in one with a second line: every line gets its simulator, its collector, its board and
    its orders, and the built-in alert rules watch both (issue 13: "the board, alerts and multi-line display work
    on ``shopfloor demo``")."""
    plant = load_plant(two_line_plant_file(tmp_path))
    assert [p.id for p in plant.printers] == [LINE_1, LINE_2]
    designs = {d.code: d for d in plant.designs}
    started_ns = time.time_ns()
    demo = Command(
        "demo",
        "--plant",
        str(tmp_path / "two-lines.toml"),
        "--port",
        "0",
        "--time-scale",
        "60",
        "--history-days",
        "0",
        cwd=tmp_path,
    )
    try:
        url = demo.wait_for_line(r"^display\s+(http://127\.0\.0\.1:\d+/)$").group(1)
        store_line = next(line for line in demo.stdout_lines if line.startswith("store"))
        assert "discarded at exit" in store_line
        scratch = Path(store_line.split("DuckDB ", 1)[1].split(" ", 1)[0]).parent
        assert scratch.is_dir() and not (tmp_path / "var").exists(), "a time-scaled run keeps out of the real store"
        modbus = [line for line in demo.stdout_lines if line.startswith("simulator") and "modbus-tcp://" in line]
        assert len(modbus) == 2, demo.stdout_lines

        with httpx.Client(base_url=url, timeout=10) as http:

            def running_a_while() -> dict[str, Any] | None:
                kpis = http.get(f"/api/v1/equipment/{LINE_1}/kpis").json()
                return kpis if kpis["total"]["times"]["apt_s"] >= 600 else None

            kpis = poll(running_a_while, "ten simulated minutes of production")
            status = http.get("/api/v1/status").json()
            check_lines_on_the_board(http, status)
            check_orders(http, designs, started_ns)
            check_hourly_alert(http, started_ns)
            check_staleness_on_the_plant_clock(http, plant, time_scale=60)
            assert "<html" in http.get("/board").text.lower()
            assert "<html" in http.get("/orders").text.lower()
        # The plant's "now" is the simulation's: well ahead of the wall clock after ten simulated minutes.
        assert status["now_ns"] > time.time_ns() + 300 * 1_000_000_000
        oee = kpis["total"]["oee"]
        # Polled once a wall second (a simulated minute), the rates still describe the simulated machine:
        # performance cannot exceed what the ideal speed allows by more than one poll's worth of metres.
        assert oee["performance_pct"] is not None and 0 < oee["performance_pct"] <= 101.0, oee
        assert oee["availability_pct"] is not None and oee["quality_pct"] is not None, oee
        # No data only before the collector's first poll, none between polls. When that poll came is what
        # the collector recorded (its link's "connected" event carries that poll's simulated time), not a
        # guess from the test's wall clock: start-up under load takes seconds of wall time, at 60x minutes
        # of simulated time without data. Had the collector stamped wall time, the "since" would be minutes
        # behind the API's now and the tail after the last sample would count as no data.
        link = status["printers"][0]["link"]
        assert link["connected"], link
        connected_ns = iso_ns(link["since"])
        assert started_ns < connected_ns < status["now_ns"], (started_ns, link, status["now_ns"])
        before_connected_s = max(0, connected_ns - kpis["range"]["start_ns"]) / 1e9
        times = kpis["total"]["times"]
        assert times["no_data_s"] <= before_connected_s + 1, (before_connected_s, times, demo.describe())
        if link["detail"] == "connected":  # never lost since the first poll: that is exactly the no-data time
            assert times["no_data_s"] >= before_connected_s - 1, (before_connected_s, times, demo.describe())
    finally:
        code = demo.interrupt()
    assert code == 0, demo.describe()
    assert not scratch.exists(), "the simulated-time store is discarded at exit"


def check_lines_on_the_board(http: httpx.Client, status: dict[str, Any]) -> None:
    """Both lines live, each from its own simulator, each with its board: hours with targets, actual metres
    that grow as the simulated plant prints."""
    assert [p["id"] for p in status["printers"]] == [LINE_1, LINE_2]
    for printer in status["printers"]:
        assert printer["link"]["connected"] and printer["state"] is not None, printer
    shift = status["shift"]["key"]

    def board_of(printer_id: str) -> dict[str, Any]:
        answer = http.get(f"/api/v1/printers/{printer_id}/hour-by-hour", params={"shift": shift})
        assert answer.status_code == 200, answer.text
        board: dict[str, Any] = answer.json()
        return board

    def board_with_data(printer_id: str) -> dict[str, Any] | None:
        board = board_of(printer_id)
        return board if board["actual_m"] else None

    first: dict[str, dict[str, Any]] = {}
    for printer_id in (LINE_1, LINE_2):
        # a shift that began a moment ago has no reading yet: the board has data once one arrives
        board = poll(functools.partial(board_with_data, printer_id), f"{printer_id}'s board with data")
        assert board["range"]["shift"]["key"] == shift, board["range"]
        hours = board["hours"]
        assert len(hours) == 8 and all(h["target_m"] > 0 for h in hours), hours
        assert board["actual_m"] is not None and board["actual_m"] > 0, board
        assert any(h["actual_m"] for h in hours if h["started"]), hours
        first[printer_id] = board

    # Samples keep flowing from both simulators: each board's actual metres grow (the board is cached a moment).
    # At 60x a shift lasts 8 minutes: should the next one begin meanwhile, its board has metres of its own.
    def grown(printer_id: str) -> bool:
        answer = http.get(f"/api/v1/printers/{printer_id}/hour-by-hour").json()
        before = first[printer_id]
        if answer["range"]["shift"]["key"] != before["range"]["shift"]["key"]:
            return bool(answer["actual_m"])
        return bool(answer["actual_m"] > before["actual_m"] + 1.0)

    poll(lambda: all(grown(p) for p in (LINE_1, LINE_2)), "the actual metres of both lines' boards to grow")


def check_orders(http: httpx.Client, designs: dict[int, Design], started_ns: int) -> None:
    """Each line's running order is the simulator's (its PLC registers): a number of its queue and a design of the
    plant file; the line's order list since the start reports it."""
    since_start = {
        "start": dt.datetime.fromtimestamp(started_ns / 1e9, dt.UTC).isoformat(),
        "end": http.get("/api/v1/status").json()["now"],
    }
    setpoint_m_min = load_plant().simulation.printer.setpoint_m_min
    running: dict[str, int] = {}
    for printer_id in (LINE_1, LINE_2):
        answer = http.get(f"/api/v1/printers/{printer_id}/orders/current")
        assert answer.status_code == 200, answer.text
        current = answer.json()["order"]
        assert current is not None and current["equipment"] == printer_id, current
        # The queue numbers orders from FIRST_ORDER_NUMBER, one per changeover_every_m metres (9 000 m: at most
        # a couple in the minutes of simulated time this test runs).
        assert FIRST_ORDER_NUMBER <= current["order_number"] < FIRST_ORDER_NUMBER + 5, current
        design = designs[current["design_code"]]
        running[printer_id] = design.code
        assert current["design"]["name"] == design.name and current["done_m"] > 0, current
        # What makes the hourly alert below certain: the simulator prints at one setpoint whatever the design,
        # under 80 % of the shipped seed's first designs (120 m/min).
        assert setpoint_m_min < 0.8 * design.ideal_speed_m_min, (design, setpoint_m_min)

        listed = http.get(f"/api/v1/printers/{printer_id}/orders", params=since_start)
        assert listed.status_code == 200, listed.text
        orders = listed.json()["orders"]
        assert current["order_number"] in [o["order_number"] for o in orders], orders
        for order in orders:
            assert order["equipment"] == printer_id and order["design_code"] in designs, order
            assert order["kpis"]["printed_m"] > 0 and order["kpis"]["times"]["apt_s"] > 0, order
            assert order["kpis"]["oee"]["performance_pct"] is not None, order
        ongoing = [o for o in orders if o["ongoing"]]
        assert [o["order_number"] for o in ongoing] == [current["order_number"]], orders
    # Each line is its own simulator with a seed of its own, read by its own collector: the shipped seed starts
    # them on different designs (two collectors reading one simulator, or two lines in lockstep, would not).
    assert running[LINE_1] != running[LINE_2], running


def check_hourly_alert(http: httpx.Client, started_ns: int) -> None:
    """The shipped rule the shipped simulation is sure to trigger: an hour of the board under 80 % of its target
    (the line prints at 80 m/min, its designs' ideal speeds are higher). The first hour the demo printed in closes
    within a simulated hour of its start (the hour before, without data, cannot tell); should that hour have no
    reading at all (the demo started in its last seconds), the next one, printed all through, decides.

    ``started_ns``: the wall clock just before the demo started, where its simulated clock begins (a little
    later)."""
    active = http.get("/api/v1/alerts", params={"state": "active"})
    assert active.status_code == 200 and active.json()["state"] == "active", active.text
    hours = http.get(f"/api/v1/printers/{LINE_1}/hour-by-hour").json()["hours"]
    # The shipped shifts start on whole hours of a zone a whole number of hours from UTC: so do all board hours.
    assert all(h["start_ns"] % HOUR_NS == 0 for h in hours), hours
    # Two hours closed after the start and settled (the settling is seconds of plant time), on the plant's clock.
    give_up_ns = (started_ns // HOUR_NS + 1) * HOUR_NS + 2 * HOUR_NS + 600 * 1_000_000_000

    def raised() -> list[dict[str, Any]] | None:
        answer = http.get("/api/v1/alerts", params={"state": "recent"}).json()
        found = [a for a in answer["alerts"] if a["rule"] == "hourly-attainment"]
        if found:
            return found
        now_ns = http.get("/api/v1/status").json()["now_ns"]
        assert now_ns < give_up_ns, f"no hourly-attainment alert by the plant's {now_ns} (> {give_up_ns}): {answer}"
        return None

    # The wall-clock bound only backs up the plant-clock one (two simulated hours are two minutes at 60x).
    found = poll(raised, "an hourly-attainment alert", timeout_s=300.0)
    for alert in found:
        assert alert["equipment"] in (LINE_1, LINE_2) and alert["severity"] == "warning", alert
        # raised once an hour the demo printed in had closed, on the simulated clock
        assert alert["raised_ns"] > (started_ns // HOUR_NS + 1) * HOUR_NS, alert
        assert "below 80 %" in alert["message"], alert


def check_staleness_on_the_plant_clock(http: httpx.Client, plant: Plant, *, time_scale: float) -> None:
    """The collectors poll on the wall clock, a poll lasting ``time_scale`` times longer on the demo's: "no data
    for 10 polls" is ten of those, not ten poll intervals of the plant's clock (then every gap between two polls
    raised and cleared a data-stale alert)."""
    rule = next(r for r in plant.alerts.rules if r.id == "printer-data-stale")
    assert rule.stale_polls is not None
    for alert in http.get("/api/v1/alerts", params={"state": "recent"}).json()["alerts"]:
        if alert["rule"] == rule.id:  # the collector really fell silent that long (a loaded machine)
            limit_s = rule.stale_polls * plant.printer(alert["equipment"]).modbus.poll_interval_s * time_scale
            assert alert["message"].endswith(f"for more than {limit_s:g} s"), alert
