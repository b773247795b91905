"""The lock and pyproject.toml agree: every range pyproject.toml declares is pinned in the lock, inside the range.

A range changed without running requirements/update.sh would otherwise install (with ``--no-deps``) and
pass or fail by luck; this says which package and which file to regenerate.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def pins(lock: str) -> dict[str, str]:
    text = (REPO / "requirements" / lock).read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    build = project["build-system"]["requires"]
    runtime = project["project"]["dependencies"]
    optional = [r for extra in extras for r in project["project"]["optional-dependencies"][extra]]
    return [Requirement(r) for r in (*build, *runtime, *optional)]


@pytest.mark.parametrize(("lock", "extras"), [("run.txt", ()), ("test.txt", ("test", "lint"))])
def test_every_declared_range_is_pinned_inside_it(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    wrong = []
    for requirement in declared(*extras):
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            wrong.append(f"{requirement} (lock: {version or 'missing'})")
    assert not wrong, f"requirements/{lock} is out of date, run: bash requirements/update.sh\n" + "\n".join(wrong)


def test_the_run_lock_is_the_test_lock_less_the_test_tools() -> None:
    """The demo runs exactly the versions the tests tested."""
    run, test = pins("run.txt"), pins("test.txt")
    differ = {name: (version, test.get(name)) for name, version in run.items() if test.get(name) != version}
    assert not differ, differ
