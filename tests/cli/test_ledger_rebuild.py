"""``shopfloor ledger rebuild`` as a real process over a real DuckDB file: rows rewritten with the plant file given,
progress on stderr (a bar on a terminal, lines in a log), one clear line and exit code 2 for what it cannot do."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.resources
import os
import pty
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopfloor.api.ledger import Ledger
from shopfloor.api.timerange import iso
from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.ledger import LedgerRow, plant_version
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.timebase import NS_PER_DAY
from shopfloor.simulators.history import plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600  # generous: two shared cores


@dataclasses.dataclass(frozen=True)
class History:
    path: Path  # a DuckDB file with three days of samples and the ledger rows of its closed shifts
    day: list[ShiftInstance]  # the three shifts of the first whole production date
    rest: list[ShiftInstance]  # the closed shifts after it


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


@pytest.fixture(scope="module")
def history(plant: Plant, tmp_path_factory: pytest.TempPathFactory) -> History:
    """Samples up to now (the command computes what is closed by the wall clock), rows of the shipped plant file."""
    now = time.time_ns()
    start = now - 3 * NS_PER_DAY
    folder = tmp_path_factory.mktemp("history")
    with DuckDBStore(folder / "shopfloor.duckdb", plant.plant.id) as store:
        for k in range(3):
            a, b = start + k * NS_PER_DAY, start + (k + 1) * NS_PER_DAY
            for batch in plant_history(plant, a, b, seed=k).batches:
                store.write(batch)
            store.flush()
        notes = AnnotationStore(folder / "annotations.sqlite3")
        try:
            ledger = Ledger(plant, store, notes, config=KpiConfig.of(plant), clock_ns=time.time_ns)
            closed = ledger.closed_instances(start, now, now)
            ledger.refresh(closed)
        finally:
            notes.close()
    dates = sorted({i.production_date for i in closed})
    whole = next(d for d in dates if sum(i.production_date == d for i in closed) == 3)
    day = [i for i in closed if i.production_date == whole]
    assert closed[-1].start_ns > day[-1].end_ns, "closed shifts after the day, to show they are left alone"
    return History(folder / "shopfloor.duckdb", day, [i for i in closed if i.start_ns >= day[-1].end_ns])


def faster_plant_file(folder: Path) -> Path:
    """The built-in plant with every ideal speed (the printer's and each design's) 25 % higher."""
    text = importlib.resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text("utf-8")
    assert text.count("ideal_speed_m_min = 100.0") == 1
    path = folder / "plant.toml"
    faster = re.sub(
        r"^ideal_speed_m_min = ([0-9.]+)$",
        lambda m: f"ideal_speed_m_min = {float(m.group(1)) * 1.25}",
        text,
        flags=re.MULTILINE,
    )
    path.write_text(faster, encoding="utf-8")
    return path


def data_dir(history: History, folder: Path) -> Path:
    target = folder / "data"
    target.mkdir()
    shutil.copyfile(history.path, target / "shopfloor.duckdb")
    return target


def rebuild_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "shopfloor.cli.main", "ledger", "rebuild", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def rows_by_key(path: Path, plant: Plant) -> dict[tuple[int, str], LedgerRow]:
    with DuckDBStore(path, plant.plant.id, read_only=True) as store:
        return {r.key: r for r in store.read_ledger(0, 2**62)}


def test_rows_are_rewritten_with_the_plant_file_given_and_progress_is_logged(
    plant: Plant, history: History, tmp_path: Path
) -> None:
    folder = data_dir(history, tmp_path)
    plant_file = faster_plant_file(tmp_path)
    before = rows_by_key(folder / "shopfloor.duckdb", plant)
    date = history.day[0].production_date.isoformat()
    done = subprocess.run(
        rebuild_argv("--plant", str(plant_file), "--data-dir", str(folder), "--since", date, "--until", date),
        capture_output=True,
        text=True,
        env=env(),
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("rebuild: ")]
    assert progress and progress[-1].startswith("rebuild: 3/3 shifts (100 %), ") and progress[-1].endswith(" shifts/s")
    assert "\r" not in done.stderr, "no bar redrawn in place when stderr is not a terminal"
    equipment = 1 + sum(len(f.robots) for f in plant.fleets)
    assert done.stdout.startswith(
        f"rebuilt 3 shifts ({3 * equipment} ledger rows), {history.day[0].key} to {history.day[-1].key}, in "
    ), done.stdout

    faster = load_plant(plant_file)
    after = rows_by_key(folder / "shopfloor.duckdb", plant)
    assert after.keys() == before.keys()
    for instance in history.day:
        row = after[(instance.start_ns, "mso-cpp-1")]
        old = before[(instance.start_ns, "mso-cpp-1")]
        assert row.plant_version == plant_version(faster) != old.plant_version
        new_totals, old_totals = row.totals, old.totals
        assert isinstance(new_totals, PrinterTotals) and isinstance(old_totals, PrinterTotals)
        assert new_totals.printed_m == old_totals.printed_m and old_totals.ideal_s > 0
        assert new_totals.ideal_s == pytest.approx(old_totals.ideal_s * 100 / 125, rel=1e-9)
    for instance in history.rest:
        assert after[(instance.start_ns, "mso-cpp-1")] == before[(instance.start_ns, "mso-cpp-1")], "outside --until"


def test_on_a_terminal_the_bar_is_redrawn_in_place(plant: Plant, history: History, tmp_path: Path) -> None:
    folder = data_dir(history, tmp_path)
    date = history.day[0].production_date.isoformat()
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            rebuild_argv("--data-dir", str(folder), "--since", date, "--until", date),
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            env=env(),
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's last holder closed it: the process has ended
                break
            if not chunk:
                break
            shown += chunk
        stdout, _ = proc.communicate(timeout=TIMEOUT_S)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert proc.returncode == 0, shown
    text = shown.decode()
    assert f"\r[{'#' * 30}] 3/3 shifts, " in text and text.rstrip().endswith("shifts/s"), text
    assert stdout.startswith("rebuilt 3 shifts")


def test_a_file_in_use_is_one_line_and_exit_code_2(plant: Plant, history: History, tmp_path: Path) -> None:
    folder = data_dir(history, tmp_path)
    with DuckDBStore(folder / "shopfloor.duckdb", plant.plant.id):  # as `shopfloor run` holds it
        done = subprocess.run(
            rebuild_argv("--data-dir", str(folder)), capture_output=True, text=True, env=env(), timeout=TIMEOUT_S
        )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shopfloor ledger: cannot open DuckDB file "), done.stderr
    assert "stop `shopfloor run` first" in lines[0]


def test_shifts_whose_samples_are_gone_are_refused_with_the_first_date_possible(
    plant: Plant, history: History, tmp_path: Path
) -> None:
    folder = data_dir(history, tmp_path)
    with DuckDBStore(folder / "shopfloor.duckdb", plant.plant.id) as store:
        store.drop_raw_before(history.day[1].start_ns)  # as a retention pass would, once the ledger held them
    since = history.day[0].production_date
    done = subprocess.run(
        rebuild_argv("--data-dir", str(folder), "--since", since.isoformat()),
        capture_output=True,
        text=True,
        env=env(),
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 2
    next_date = (since + dt.timedelta(days=1)).isoformat()
    assert done.stderr.strip().splitlines() == [
        f"shopfloor ledger rebuild: raw samples before {iso(plant, history.day[1].start_ns)} are no longer kept"
        f" ([storage] raw_retention_days = 90), so the shifts before it cannot be computed again (their rows stay"
        f" as they are): use --since {next_date} or later"
    ]


def test_a_missing_store_or_bad_dates_are_one_line_and_exit_code_2(tmp_path: Path) -> None:
    for args, expected in (
        (["--data-dir", str(tmp_path / "nowhere")], f"shopfloor ledger: no DuckDB file {tmp_path / 'nowhere'}"),
        (["--since", "2026-11-31"], "argument --since: expected a date as YYYY-MM-DD, got '2026-11-31'"),
        (
            ["--data-dir", str(tmp_path), "--since", "2026-11-20", "--until", "2026-11-19"],
            "shopfloor ledger rebuild: --until 2026-11-19 is before --since 2026-11-20",
        ),
    ):
        done = subprocess.run(rebuild_argv(*args), capture_output=True, text=True, env=env(), timeout=TIMEOUT_S)
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr.strip().splitlines()[-1], (args, done.stderr)
