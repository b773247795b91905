"""Two lines, two collectors, two API processes, one InfluxDB: the deployment the ledger is shared in (issue 12).

One plant file for the whole plant: two printing lines and the robot fleet,
served by ``shopfloor simulate``. Each line has its own ``shopfloor collect``
(``--only``): line 1 with the fleet, line 2 alone, each with its own spool,
both writing to one real InfluxDB. ``python -m shopfloor.api`` serves the
plant from that InfluxDB and its ledger keeper writes the rows of a closed
shift; a second ``python -m shopfloor.api`` over the same InfluxDB serves
the rows the first one wrote.

Everything runs on the wall clock, as a plant does: the plant file's shifts
are one minute long around the test's "now" and its robot response horizon is
one second, so a shift closes, settles and gets its ledger rows within about
two minutes (``[kpi] response_horizon_s`` and ``ledger_settle_s``, 1 s and 5 s here; docs/plant-file.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench._influx import InfluxServer
from bench._ports import free_port
from shopfloor.api.ledger import PRINTER_KPI_FIELDS
from shopfloor.models.calendar import ShiftInstance, shift_instances, to_ns
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.ledger import LedgerRow
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.timebase import NS_PER_S
from shopfloor.store.influx import InfluxConnection, InfluxStore
from tests.cli._process import Command
from tests.fixtures.waiting import wait_until

DEFAULT_PLANT = Path(__file__).resolve().parents[2] / "models" / "plants" / "mso_cpp_plant.toml"
LINE_1, LINE_2, FLEET = "mso-cpp-1", "mso-cpp-2", "ev-robots"
WINDOW_SHIFTS = 15  # one-minute shifts from the next whole minute on: room for a slow start on a loaded machine
SHIFT_DEADLINE_S = 6 * 60.0  # a shift's minute, its settling minute, a keeper pass, and a loaded machine


def _section(text: str, start: str, end: str) -> tuple[int, int]:
    a = text.index(start)
    return a, text.index(end, a)


def two_line_plant_file(folder: Path, first_shift_local: dt.datetime) -> Path:
    """The built-in plant with a second line, free loopback ports, one-minute shifts from ``first_shift_local``
    and the rest of the day as one long shift, a one-second response horizon and one day of raw retention."""
    text = DEFAULT_PLANT.read_text(encoding="utf-8")
    a, b = _section(text, "[[printers]]", "# ---------------------------------------------------------------- charging")
    line_1 = text[a:b]
    assert line_1.count('id = "mso-cpp-1"') == 1 and line_1.count("port = 5020") == 1
    line_2 = (
        line_1.replace('id = "mso-cpp-1"', f'id = "{LINE_2}"')
        .replace("gravure line 1", "gravure line 2")
        .replace("1号线", "2号线")
        .replace("port = 5020", f"port = {free_port()}")
    )
    line_1 = line_1.replace("port = 5020", f"port = {free_port()}")
    text = text[:a] + line_1 + line_2 + text[b:]
    assert text.count("127.0.0.1:4840") == 1
    text = text.replace("127.0.0.1:4840", f"127.0.0.1:{free_port()}")

    shifts = []
    for k in range(WINDOW_SHIFTS + 1):
        start = first_shift_local + dt.timedelta(minutes=k)
        end = start + dt.timedelta(minutes=1)
        if k == WINDOW_SHIFTS:  # the rest of the day, back to the first one-minute shift
            end = first_shift_local
        shifts.append(
            f'[[shift_calendar.shifts]]\nid = "m{k:02d}"\nname = "Minute {k}"\nname_zh = "第 {k} 分钟"\n'
            f"start = {start:%H:%M}:00\nend = {end:%H:%M}:00\n"
        )
    teams = f"""[[teams]]
id = "printing"
name = "Printing lines"
name_zh = "印花线"
kind = "equipment"
equipment = ["{LINE_1}", "{LINE_2}"]
objectives = [{{ kpi = "printed_m", target = 100, weight = 0.5 }}, {{ kpi = "oee_pct", target = 70, weight = 0.5 }}]

[[teams]]
id = "charging-robots"
name = "Charging-robot team"
name_zh = "充电机器人组"
kind = "equipment"
equipment = ["{FLEET}"]
objectives = [{{ kpi = "fleet_availability_pct", target = 97, weight = 1.0 }}]

"""
    a, b = _section(
        text, "[shift_calendar]", "# ---------------------------------------------------------------- conventional"
    )
    text = text[:a] + "[shift_calendar]\n\n" + "\n".join(shifts) + "\n" + teams + text[b:]
    assert text.count("raw_retention_days = 90") == 1 and text.count("[kpi]\n") == 1
    # A day of raw retention: the keeper's first pass fills yesterday's few shifts, not three months of them.
    text = text.replace("raw_retention_days = 90", "raw_retention_days = 1")
    text = text.replace("[kpi]\n", "[kpi]\nresponse_horizon_s = 1.0\nledger_settle_s = 5.0\n")
    path = folder / "plant.toml"
    path.write_text(text, encoding="utf-8")
    return path


def influx_env(server: InfluxServer, bucket: str) -> dict[str, str]:
    return {
        "INFLUX_URL": server.url,
        "INFLUX_BUCKET": bucket,
        "INFLUX_ORG": server.org,
        "INFLUX_TOKEN": server.token,
        "SHOPFLOOR_API_KEYS": "",  # operator input closed: these APIs only serve
    }


@pytest.fixture
def stopped_at_exit() -> Iterator[list[Command]]:
    """Processes to end when the test ends, whatever happened (Ctrl-C first, then a kill)."""
    started: list[Command] = []
    yield started
    for command in reversed(started):
        try:
            command.interrupt(timeout_s=30)
        except Exception:  # a process that will not stop is killed; the others must still stop
            command.kill()


def samples_per_equipment(server: InfluxServer, bucket: str, measurement: str, field: str) -> dict[str, int]:
    body = server.query(f'SELECT count("{field}") FROM "{measurement}" GROUP BY "equipment"', db=bucket)
    return {s["tags"]["equipment"]: int(s["values"][0][1]) for s in body["results"][0].get("series", [])}


def known_s(printer: dict[str, Any]) -> float:
    """Seconds of a printer's KPI report that data covers (no data and outside shifts left out)."""
    times = printer["times"]
    return float(sum(times[k] for k in ("apt_s", "aust_s", "adot_s", "adet_s", "pdot_s")))


def start_api(folder: Path, plant_file: Path, env: dict[str, str], started: list[Command]) -> tuple[Command, str]:
    folder.mkdir()
    port = free_port()
    api = Command("--plant", str(plant_file), "--port", str(port), cwd=folder, env=env, module="shopfloor.api")
    started.append(api)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert api.proc.poll() is None, f"the API ended: {api.describe()}"
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, "the API to answer /health", timeout_s=60, poll_s=0.1)
    return api, url


@pytest.mark.timeout(600)  # a one-minute shift, its settling minute, and a loaded machine
def test_two_collectors_and_two_apis_share_one_influxdb_and_its_ledger(
    tmp_path: Path, influx_server: InfluxServer, stopped_at_exit: list[Command]
) -> None:
    tz = load_plant().tz
    now_local = dt.datetime.now(tz)
    first_shift = now_local.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    plant_file = two_line_plant_file(tmp_path, first_shift)
    plant = load_plant(plant_file)
    assert [p.id for p in plant.printers] == [LINE_1, LINE_2] and [f.id for f in plant.fleets] == [FLEET]
    bucket = influx_server.new_bucket()
    env = influx_env(influx_server, bucket)

    simulate = Command("simulate", "--plant", str(plant_file), cwd=tmp_path)
    stopped_at_exit.append(simulate)
    for printer in plant.printers:
        simulate.wait_for_line(rf"serving modbus-tcp://127\.0\.0\.1:{printer.modbus.port} unit")
    simulate.wait_for_line(r"serving opc\.tcp://")

    # One collector per line, each on "its machine" (own folder, own spool), from the one plant file.
    collectors = {}
    for name, only in (("line-1", (LINE_1, FLEET)), ("line-2", (LINE_2,))):
        (tmp_path / name).mkdir()
        args = [a for equipment in only for a in ("--only", equipment)]
        collectors[name] = Command(
            "collect", "--plant", str(plant_file), *args, "--report-interval-s", "0.5", cwd=tmp_path / name, env=env
        )
        stopped_at_exit.append(collectors[name])
    line_1, line_2 = collectors["line-1"], collectors["line-2"]
    line_1.wait_for_line(r"collecting 1 printer\(s\) and 1 fleet\(s\) into InfluxStore")
    line_2.wait_for_line(r"collecting 1 printer\(s\) and 0 fleet\(s\) into InfluxStore")
    robot_ids = sorted(r.id for r in plant.fleets[0].robots)
    line_1.wait_for_line(
        rf"printer \d+ samples from 1 equipment .*robot \d+ samples from {len(robot_ids)} equipment", 90
    )
    line_2.wait_for_line(r"printer \d+ samples from 1 equipment", 90)
    assert not any(LINE_2 in line for line in line_1.all_lines), "line 1's collector reads line 2"
    assert not any(LINE_1 in line or FLEET in line for line in line_2.all_lines), "line 2's collector reads more"

    # Both lines' samples arrive in the one database.
    printers_seen = wait_until(
        lambda: (
            (c := samples_per_equipment(influx_server, bucket, MEASUREMENT_PRINTER, "state")).keys() >= {LINE_1, LINE_2}
            and c
        ),
        "both lines' samples in InfluxDB",
        timeout_s=60,
        poll_s=0.25,
    )
    flowing_ns = to_ns(dt.datetime.now(tz))
    assert all(n > 0 for n in printers_seen.values()), printers_seen
    robots = samples_per_equipment(influx_server, bucket, MEASUREMENT_ROBOT, "state")
    assert sorted(robots) == robot_ids, robots

    api_1, url_1 = start_api(tmp_path / "api-1", plant_file, env, stopped_at_exit)
    apis = [api_1]

    # The API's KPIs of the running shift show both lines with data.
    def both_lines_in_kpis() -> dict[str, Any] | None:
        body = httpx.get(f"{url_1}/api/v1/kpis", timeout=30).json()
        printers = body["printers"]
        return body if all(p in printers and known_s(printers[p]) > 0 for p in (LINE_1, LINE_2)) else None

    wait_until(both_lines_in_kpis, "both lines with data in /api/v1/kpis", timeout_s=90, poll_s=0.5)

    # The first one-minute shift that began after both lines were flowing: its ledger rows come from both.
    after = [i for i in window_instances(plant, first_shift) if i.start_ns >= flowing_ns]
    assert after, f"the machine took more than the test's {WINDOW_SHIFTS} one-minute shifts to start collecting"
    shift = after[0]
    reader = InfluxStore(
        InfluxConnection(
            url=influx_server.url,
            org=influx_server.org,
            bucket=bucket,
            token=influx_server.token,
            spool_dir=tmp_path / "test-spool",
        ),
        plant.plant.id,
    )
    try:
        equipment = [LINE_1, LINE_2, *robot_ids]

        def rows_of_shift() -> dict[str, LedgerRow] | None:
            assert api_1.proc.poll() is None, f"the API ended: {api_1.describe()}"
            rows = {r.equipment_id: r for r in reader.read_ledger(shift.start_ns, shift.start_ns + 1)}
            return rows if set(rows) == set(equipment) else None

        rows = wait_until(
            rows_of_shift, f"the ledger rows of {shift.key} from API 1", timeout_s=SHIFT_DEADLINE_S, poll_s=1.0
        )
        assert re.search(r"ledger: \d+ shift\(s\) written", "\n".join(api_1.all_lines)), api_1.describe()
        stored = reader.count_samples(
            MEASUREMENT_PRINTER, [LINE_1, LINE_2], PRINTER_KPI_FIELDS, shift.start_ns, shift.end_ns
        )
        for printer in (LINE_1, LINE_2):
            row = rows[printer]
            assert isinstance(row.totals, PrinterTotals)
            # computed from that line's samples, all of them (both collectors' data was in when the row was made)
            assert row.samples_read > 0 and row.samples_read == stored[printer], (printer, row.samples_read, stored)
            assert row.shift_key == shift.key and row.watermark_ns >= shift.end_ns
        first_view = httpx.get(f"{url_1}/api/v1/kpis", params={"shift": shift.key}, timeout=30).json()
        for printer in (LINE_1, LINE_2):
            assert first_view["printers"][printer]["printed_m"] == rows[printer].totals.printed_m

        # The shared ledger: a row replaced in it (as another machine's `shopfloor ledger rebuild` would) is what a
        # second API over the same InfluxDB serves for that shift: it reads the rows, it does not recompute them.
        line_2_row = rows[LINE_2]
        assert isinstance(line_2_row.totals, PrinterTotals)
        marked_m = line_2_row.totals.printed_m + 1000.0
        reader.write_ledger(
            [dataclasses.replace(line_2_row, totals=dataclasses.replace(line_2_row.totals, printed_m=marked_m))]
        )
        assert reader.flush(30), "the replaced ledger row did not reach InfluxDB"

        api_2, url_2 = start_api(tmp_path / "api-2", plant_file, env, stopped_at_exit)
        apis.append(api_2)
        second_view = httpx.get(f"{url_2}/api/v1/kpis", params={"shift": shift.key}, timeout=30).json()
        assert second_view["printers"][LINE_2]["printed_m"] == marked_m
        assert second_view["printers"][LINE_1] == first_view["printers"][LINE_1]
        assert second_view["fleets"] == first_view["fleets"]
        # one row per shift and equipment, whichever process wrote it last
        kept = reader.read_ledger(shift.start_ns, shift.start_ns + 1)
        assert sorted(r.equipment_id for r in kept) == sorted(equipment)
    finally:
        reader.close()
    # A clean stop of every process is part of the deployment. `python -m shopfloor.api` answers Ctrl-C, once
    # uvicorn has shut down, with the conventional 130 (cli.runtime.run_command); the commands with 0.
    for command in reversed(stopped_at_exit):
        assert command.interrupt() in ((0, 130) if command in apis else (0,)), command.describe()


def window_instances(plant: Plant, first_shift_local: dt.datetime) -> list[ShiftInstance]:
    """The one-minute shift instances of the test's window, in order."""
    start = to_ns(first_shift_local)
    ids = {f"m{k:02d}" for k in range(WINDOW_SHIFTS)}
    found = shift_instances(plant.shift_calendar, plant.tz, start, start + (WINDOW_SHIFTS + 1) * 60 * NS_PER_S)
    return [i for i in found if i.shift_id in ids and i.start_ns >= start]


def test_collect_only_names_what_it_cannot_collect(tmp_path: Path) -> None:
    for only, expected in (
        ("r03", r"--only r03: robots are collected with their fleet; use --only ev-robots"),
        ("line-9", r"--only line-9: the plant file has no printer or fleet of that id \(printers and fleets: "),
    ):
        collect = Command("collect", "--only", only, cwd=tmp_path)
        collect.wait_for_line(expected)
        assert collect.proc.wait(timeout=60) != 0, collect.describe()
