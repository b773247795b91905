"""Lint, format and types are part of the test suite, so CI and a newcomer's
test run check them the same way, with the versions the lock names.

mypy reads source files, not the import hooks an editable install uses, so it
cannot see that the folder ``models/`` is the package ``shopfloor.models``.
It is given the installed layout as a tree of links (``shopfloor/models`` ->
``models/``, …) and checks ``-p shopfloor -p bench``: the same names the code
imports, nothing copied.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PACKAGES = ("api", "cli", "collectors", "models", "simulators", "store")


@pytest.mark.parametrize("check", ["check", "format"])
def test_ruff_is_clean(check: str) -> None:
    command = [sys.executable, "-m", "ruff", check, "--no-cache", "."]
    if check == "format":
        command.insert(-1, "--check")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"ruff {check} failed:\n{done.stdout}\n{done.stderr}"


def test_mypy_is_clean(tmp_path: Path) -> None:
    installed = tmp_path / "layout" / "shopfloor"
    installed.mkdir(parents=True)
    for package in PACKAGES:
        (installed / package).symlink_to(REPO / package, target_is_directory=True)
    for apart in ("bench", "tests"):  # checked: bench; read for the names bench imports: tests
        (tmp_path / "layout" / apart).symlink_to(REPO / apart, target_is_directory=True)
    # strictness from pyproject.toml; the cache beside the links, so names never mix with the folders'
    command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
    command += ["--cache-dir", str(tmp_path / "cache"), "-p", "shopfloor", "-p", "bench"]
    done = subprocess.run(command, cwd=tmp_path / "layout", capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"mypy failed:\n{done.stdout}\n{done.stderr}"
