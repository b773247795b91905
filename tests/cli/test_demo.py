"""``shopfloor demo`` — the README's first command — as a person runs it.

A real process: simulators on loopback ports, the collectors reading them
over Modbus TCP and OPC UA, the embedded DuckDB store, the API. The test reads
the URLs the command prints, waits (on the API's answers, with deadlines)
until every printer and robot is live, uses the operator key the demo wrote,
stops it with Ctrl-C and finds the samples kept in the store file.
"""

from __future__ import annotations

import datetime as dt
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.plant import load_plant
from shopfloor.store.duckdb_store import DuckDBStore
from tests.cli._process import Command

DEADLINE_S = 60.0


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


def test_a_time_scaled_demo_runs_the_whole_system_on_simulated_time(tmp_path: Path) -> None:
    """At 60x a shift passes in 8 minutes; rates stay true because collectors and API share the simulated clock."""
    plant = load_plant()
    printer_id = plant.printers[0].id
    started_ns = time.time_ns()
    demo = Command("demo", "--port", "0", "--time-scale", "60", cwd=tmp_path)
    try:
        url = demo.wait_for_line(r"^display\s+(http://127\.0\.0\.1:\d+/)$").group(1)
        store_line = next(line for line in demo.stdout_lines if line.startswith("store"))
        assert "discarded at exit" in store_line
        scratch = Path(store_line.split("DuckDB ", 1)[1].split(" ", 1)[0]).parent
        assert scratch.is_dir() and not (tmp_path / "var").exists(), "a time-scaled run keeps out of the real store"

        with httpx.Client(base_url=url, timeout=10) as http:

            def running_a_while() -> dict[str, Any] | None:
                kpis = http.get(f"/api/v1/equipment/{printer_id}/kpis").json()
                return kpis if kpis["total"]["times"]["apt_s"] >= 600 else None

            kpis = poll(running_a_while, "ten simulated minutes of production")
            status = http.get("/api/v1/status").json()
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
