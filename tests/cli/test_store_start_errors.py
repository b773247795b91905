"""Every command that opens the store, started on a full disk or on a damaged DuckDB file: it exits with code 2
and one line naming the file, what is wrong and what to do - no traceback, and the "one process per file" hint
only when another process really holds the file (tests/store/test_duckdb_store.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopfloor.models.plant import Plant, load_plant
from shopfloor.store.duckdb_store import DuckDBStore
from tests.cli._process import REPO
from tests.cli.test_simulate_collect import DEFAULT_PLANT, free_port
from tests.fixtures.damaged import DAMAGES, damaged_copy, history_file
from tests.fixtures.tmpfs import fill

DEADLINE_S = 180  # only a bound for a hung command: each one exits as soon as its store refuses to open
COMMANDS = ("collect", "run", "demo", "python -m shopfloor.api")


def plant_file(data_dir: Path, folder: Path) -> Path:
    """The default plant (written to ``folder``) with its store in ``data_dir`` and its ports free."""
    text = DEFAULT_PLANT.read_text(encoding="utf-8")
    assert text.count('path = "var/shopfloor.duckdb"') == 1
    text = text.replace('path = "var/shopfloor.duckdb"', f'path = "{data_dir / "shopfloor.duckdb"}"')
    text = text.replace("port = 5020", f"port = {free_port()}").replace("127.0.0.1:4840", f"127.0.0.1:{free_port()}")
    path = folder / f"{data_dir.name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def argv(command: str, data_dir: Path, folder: Path) -> tuple[list[str], str]:
    """The command line, and the prefix of the line it prints."""
    plant = str(plant_file(data_dir, folder))
    if command == "python -m shopfloor.api":
        return [
            sys.executable,
            "-m",
            "shopfloor.api",
            "--plant",
            plant,
            "--port",
            str(free_port()),
        ], "python -m shopfloor.api: "
    extra = [] if command == "collect" else ["--data-dir", str(data_dir), "--port", "0"]
    return [sys.executable, "-m", "shopfloor.cli.main", command, "--plant", plant, *extra], f"shopfloor {command}: "


def run_all(data_dirs: dict[str, Path], folder: Path) -> dict[str, tuple[int, list[str], str]]:
    """Each command on its own copy of the store (concurrently: they exit on their own), run in ``folder`` (not
    on the full disk); exit code, stderr lines and the prefix of the line it should print."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    started = {}
    for command, data_dir in data_dirs.items():
        args, prefix = argv(command, data_dir, folder)
        proc = subprocess.Popen(args, cwd=folder, env=env, text=True, stderr=subprocess.PIPE)
        started[command] = (proc, prefix)
    results = {}
    for command, (proc, prefix) in started.items():
        try:
            _, err = proc.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"{command} did not exit on a store it cannot open:\n{err}")
        results[command] = (proc.returncode, err.splitlines(), prefix)
    return results


def assert_one_clear_line(results: dict[str, tuple[int, list[str], str]], *expected: str) -> None:
    for command, (rc, lines, prefix) in results.items():
        text = "\n".join(lines)
        assert rc == 2, f"{command}: exit code {rc}\n{text}"
        assert "Traceback" not in text, f"{command}:\n{text}"
        said = [line for line in lines if line.startswith(prefix)]
        assert len(said) == 1, f"{command}:\n{text}"
        for part in expected:
            assert part in said[0], f"{command}: {part!r} not in {said[0]!r}"
        assert "one process" not in said[0]
        others = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
        assert others == [], f"{command}:\n{text}"


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


@pytest.fixture(scope="module")
def good_file(plant: Plant, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history_file(plant, tmp_path_factory.mktemp("good") / "shopfloor.duckdb")


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_store_file_ends_every_command_with_one_line(good_file: Path, tmp_path: Path, damage: str) -> None:
    data_dirs = {c: tmp_path / c.replace(" ", "-") for c in COMMANDS}
    for data_dir in data_dirs.values():
        damaged_copy(good_file, data_dir / "shopfloor.duckdb", damage)
    results = run_all(data_dirs, tmp_path)
    for command, data_dir in data_dirs.items():
        assert_one_clear_line(
            {command: results[command]},
            f"DuckDB file {data_dir / 'shopfloor.duckdb'} is damaged (",
            "restore it from a backup, or move it (with its .wal, if any) aside to start a new one",
        )


def test_a_full_disk_ends_every_command_with_one_line(
    plant: Plant,
    tiny_fs: Path,
    tmp_path: Path,
) -> None:
    data_dirs = {c: tiny_fs / c.replace(" ", "-") for c in COMMANDS}
    for data_dir in data_dirs.values():
        DuckDBStore(data_dir / "shopfloor.duckdb", plant.plant.id).close()  # it ran before the disk filled
    fill(tiny_fs)
    results = run_all(data_dirs, tmp_path)
    for command, data_dir in data_dirs.items():
        assert_one_clear_line(
            {command: results[command]},
            f"no space left on device: cannot write DuckDB file {data_dir / 'shopfloor.duckdb'} (",
            "free space on that disk",
        )
