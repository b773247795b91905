"""Lint, format and types are part of the test suite, so CI and a newcomer's
test run check them the same way, with the versions the lock names.

mypy reads source files, not the import hooks an editable install uses, so it
cannot see that the folder ``models/`` is the package ``shopfloor.models``.
It is given the installed layout as a tree of links (``shopfloor/models`` ->
``models/``, …) and checks ``-p shopfloor -p bench``: the same names the code
imports, nothing copied.
"""

from __future__ import annotations

import re
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
    (tmp_path / "layout" / "bench").symlink_to(REPO / "bench", target_is_directory=True)
    # strictness from pyproject.toml; the cache beside the links, so names never mix with the folders'
    command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
    command += ["--cache-dir", str(tmp_path / "cache"), "-p", "shopfloor", "-p", "bench"]
    done = subprocess.run(command, cwd=tmp_path / "layout", capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"mypy failed:\n{done.stdout}\n{done.stderr}"


IGNORE = re.compile(r"#\s*(type:\s*ignore\[[^\]]+\]|noqa:\s*[A-Z0-9, ]+)(?P<rest>.*)$")


def test_every_ignore_says_why() -> None:
    """A silenced check names the code and, after it on the same line, the reason."""
    bare = []
    for folder in ("api", "bench", "cli", "collectors", "models", "simulators", "store", "tests"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                for m in IGNORE.finditer(line):
                    if not m.group("rest").strip(" #-"):
                        bare.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
                if re.search(r"type:\s*ignore(?!\[)", line):
                    bare.append(f"{path.relative_to(REPO)}:{n}: {line.strip()} (no error code)")
    assert not bare, "\n".join(bare)
