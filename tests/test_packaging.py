"""What `pip install` puts in a user's environment: one top-level name, `shopfloor`, and everything under it.

The folders stay at the top of the repository and pyproject.toml maps each to `shopfloor.<folder>`;
these tests hold that list against the folders, and build the real wheel to read what it installs.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("api", "cli", "collectors", "models", "simulators", "store")


def setuptools_table() -> dict:  # type: ignore[type-arg]  # a TOML table
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_folder_is_installed_under_shopfloor() -> None:
    on_disk = {
        "shopfloor." + ".".join(init.parent.relative_to(REPO).parts)
        for folder in FOLDERS
        for init in (REPO / folder).rglob("__init__.py")
    }
    table = setuptools_table()
    assert set(table["packages"]) == on_disk
    assert table["package-dir"] == {f"shopfloor.{folder}": folder for folder in FOLDERS}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("shopfloor-*.whl")
    return built


def test_the_wheel_installs_only_shopfloor(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(info).decode().split() == ["shopfloor"]
        entry_points = archive.read(info.replace("top_level.txt", "entry_points.txt")).decode()
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"shopfloor"}
    assert "shopfloor = shopfloor.cli.main:main" in entry_points
    # data the code loads at run time travels with it
    assert "shopfloor/models/plants/mso_cpp_plant.toml" in names
    assert "shopfloor/api/static/index.html" in names
    assert "shopfloor/api/static/tracking.html" in names
    # the vendored chart library travels with its licences (api/static/vendor/echarts/README.md)
    assert {"echarts.min.js", "LICENSE", "NOTICE", "LICENSE-zrender", "LICENSE-d3", "LICENSE-tslib"} <= {
        n.rsplit("/", 1)[1] for n in names if n.startswith("shopfloor/api/static/vendor/echarts/")
    }
    assert not any(name.startswith(("shopfloor/tests/", "shopfloor/bench/")) for name in names)
