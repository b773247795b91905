"""Lint, format and types are part of the test suite, so CI and a newcomer's
test run check them the same way, with the versions the lock names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECKS = {
    "ruff-check": [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
    "ruff-format": [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
    # mypy reads its file list and strictness from pyproject.toml
    "mypy": [sys.executable, "-m", "mypy"],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_static_check_is_clean(name: str) -> None:
    done = subprocess.run(CHECKS[name], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"


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
